"""Real OOM reports (tests/data/postmortem/realoom2, sources in SOURCES.tsv): thread victims, printed scores above
1000, reaped previous victims, formats that date a report.

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md), not copied
from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import _report_notes, analyze_events
from oomlens.kernel.eras import ERAS, era_by_name
from oomlens.sources.kernellog import iter_file_events


def _analyses(name: str) -> list:
    return analyses("realoom2", name)


def _era_names(lo: tuple[int, int, int], hi: tuple[int, int, int] | None) -> set[str]:
    """The eras that overlap lo..hi."""
    return {e.name for e in ERAS if (hi is None or e.first <= hi) and (e.last is None or e.last >= lo)}


def _eras_of(d: dict) -> set[str]:
    return {d["kernel_era"], *d["era_alternatives"]}


# --------------------------------------------------------------------------- 1. a thread's pid as the victim

def test_004_memcg_victim_is_a_thread_of_a_row():
    # 3.13 memcg OOM: css_task_iter walks threads, dump_tasks prints one row per process. Killed 7537: anon-rss
    # 129696 + file-rss 12944 = 142640 kB = 35660 pages = row 7493's rss, and no other row's (sh: 163).
    # Score: T = 131072 kB / 4 = 32768 pages (memsw room 32768, host swap not printed: 0);
    # (35660 + 206) * 1000 // 32768 = 35866000 // 32768 = 1094 = the printed score, without the root bonus
    # (with it: 35866 - 30 * 32 = 34906 → 1065). So 7493 runs as uid 0 without CAP_SYS_ADMIN: badness 35866.
    (a,) = _analyses("004-")
    d = a.to_dict()
    assert d["verdict"] == "agrees", d["reason"]
    assert d["model_victim"]["pid"] == 7493
    assert d["score_check"]["matches"] and d["score_check"]["printed"] == 1094
    rows = {t["pid"]: t for t in d["tasks"]}
    assert rows[7493]["badness"] == 35866 and rows[7493]["adj_term"] == 0
    assert any("thread of 7493" in n for n in d["notes"])
    assert any("without the root bonus" in n for n in d["notes"])
    assert not any(n == "the killed pid 7537 is not in the task table" for n in d["notes"])  # answered above


# --------------------------------------------------------------------------- 2. printed score above 1000

def test_scores_above_1000_are_noted_only_where_the_era_cannot_print_them():
    # 3.5-5.0 print points*1000/T: adj +1000 adds T, so up to about 2000 (004: 1094, 015: 1116); 2.6.24's
    # heuristic points are unbounded (011: 42837)
    for name in ("004-", "015-", "011-"):
        for a in _analyses(name):
            assert not any("exceeds 1000" in n or "more than" in n for n in a.all_notes), name
    # 1116 > 1000 cannot come from 2.6.36-3.4 (clamped to 1000): 3.5-5.0 only
    d = _analyses("015-")[0].to_dict()
    assert _eras_of(d) <= _era_names((3, 5, 0), (5, 0, 9999))


def test_score_above_1000_noted_only_against_rules_that_cannot_print_it(tmp_path):
    # 2.6.36-3.4 print the badness clamped to 1..1000: 1200 is not theirs; 3.5-5.0 print points*1000/T (up to ~2000)
    log = tmp_path / "x.log"
    log.write_text("[  10.000000] Out of memory: Kill process 100 (a) score 1200 or sacrifice child\n"
                   "[  10.000100] Killed process 100 (a) total-vm:4000kB, anon-rss:400kB, file-rss:0kB\n")
    (a,) = analyze_events(iter_file_events(str(log)), strict=True)
    assert _eras_of(a.to_dict()) <= _era_names((3, 5, 0), (4, 4, 9999))   # > 1000, and no shmem-rss
    assert any("1200" in n and "more than" in n for n in _report_notes(a.event, era_by_name("3.2-3.4")))
    assert not any("1200" in n for n in _report_notes(a.event, era_by_name("3.5-3.13")))


# --------------------------------------------------------------------------- 3. reaped previous victims

def test_001_reaped_pids_are_previous_victims_for_the_next_report():
    # lines 4-16 (before the second report's header at 4607.765352): 21525 and 26334 reaped; 4.7 (printed)
    # skips MMF_OOM_REAPED mms, so neither is a candidate in the second report's table
    a, b = _analyses("001-")
    d = b.to_dict()
    assert d["kernel_era"] == "4.7"
    rows = {t["pid"]: t for t in d["tasks"]}
    assert not rows[21525]["eligible"] and not rows[26334]["eligible"]
    assert any("oom_reaper" in n and "21525" in n and "26334" in n for n in d["notes"])
    assert d["explanation"]["runner_up"]["pid"] != 26334


# --------------------------------------------------------------------------- 4. formats that date a report

def test_013_kill_line_without_shmem_rss_is_2_6_36_to_4_4():
    (a,) = _analyses("013-")
    assert _eras_of(a.to_dict()) <= _era_names((2, 6, 36), (4, 4, 9999))


def test_invoked_line_formats_date_the_report():
    # numeric gfp_mask, order, oom_score_adj, no oom_adj, no flags text: 3.7-4.4 (022, 023)
    for name in ("022-", "023-"):
        (a,) = _analyses(name)
        assert _eras_of(a.to_dict()) <= _era_names((3, 7, 0), (4, 4, 9999)), name
    # 006 event 2: symbolic flags and 'nodemask=1,  order=0' (two spaces): 4.10-4.16
    b = _analyses("006-")[1].to_dict()
    assert _eras_of(b) <= _era_names((4, 10, 0), (4, 16, 9999))


def test_008_release_printed_earlier_in_the_same_boot_is_carried_over():
    # event 2 (uptime 8523.444701, after event 1's 8523.347168) prints no release; event 1 printed 5.15.0-1041-azure
    a, b = _analyses("008-")
    d = b.to_dict()
    assert d["kernel_era"] == "5.9+" and d["era_alternatives"] == []
    assert "5.15.0-1041-azure" in d["era_source"] and "earlier" in d["era_source"]


def test_bare_kill_line_is_2_6_32_or_older(tmp_path):
    # 'Killed process N (x)' and nothing else: __oom_kill_task up to 2.6.32 (2.6.33 added vsz:)
    log = tmp_path / "x.log"
    log.write_text("Feb 23 16:11:00 dalburk kernel: [1223639.939389] Killed process 19776 (VirtualBox)\n")
    (a,) = analyze_events(iter_file_events(str(log)), strict=True)
    assert _eras_of(a.to_dict()) <= _era_names((0, 0, 0), (2, 6, 32))
