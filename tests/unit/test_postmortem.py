"""Post-mortem verdicts on synthetic reports built from the kernel's printk formats (spec §6)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.main import cli
from oomlens.oomreport import parse_text

ROW419 = "[{pid:>7}] {uid:>5} {pid:>5} {vm:>8} {rss:>8} {pt:>8} {swap:>8}         {adj:>5} {name}"
ROW68 = "[{pid:>7}] {uid:>5} {pid:>5} {vm:>8} {rss:>8} {anon:>8} {file:>8} {shmem:>9} {pt:>8} {swap:>8}         {adj:>5} {name}"


def report68(rows, victim, *, release="6.8.0-45-generic", ts=100.0, memcg=None, limit_kb=None, ram=1_000_000,
             reserved=0, swap_kb=0, host=None, comm="alloc", table="6.8"):
    """A 6.8+ report: invoked line, CPU line, Mem-Info or memcg block, table, summary, kill line."""
    pre = (lambda t: f"Nov 26 10:00:00 {host} kernel: [{t:12.6f}] ") if host else (lambda t: f"[{t:12.6f}] ")
    out = [f"{comm} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
           f"CPU: 1 UID: 0 PID: 4242 Comm: {comm} Not tainted {release} #1",
           "Call Trace:", " <TASK>", " dump_stack_lvl+0x57/0x80", " out_of_memory+0x214/0x500", " </TASK>"]
    if memcg:
        out += [f"memory: usage {limit_kb}kB, limit {limit_kb}kB, failcnt 7",
                f"swap: usage 0kB, limit {memcg['swap_kb']}kB, failcnt 0" if "swap_kb" in memcg else
                "memory+swap: usage 0kB, limit 9007199254740988kB, failcnt 0",
                f"Memory cgroup stats for {memcg['path']}:", "anon 1000", "file 0"]
    else:
        out += ["Mem-Info:", "active_anon:1 inactive_anon:2 isolated_anon:0",
                f"Total swap = {swap_kb}kB", f"{ram} pages RAM", "0 pages HighMem/MovableOnly",
                f"{reserved} pages reserved"]
    out += ["Tasks state (memory values in pages):",
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"
            if table == "6.8" else "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"]
    row_format = ROW68 if table == "6.8" else ROW419
    if not memcg:  # a global table lists every user process; fewer than 3 rows reads as a filtered log
        rows = [(2, 1, 4096, 0, "sshd"), (3, 1, 4096, 0, "cron")] + list(rows)
    for r in rows:
        out.append(row_format.format(pid=r[0], uid=0, vm=r[1] * 2, rss=r[1], anon=r[1], file=0, shmem=0,
                                pt=r[2] if len(r) > 2 else 4096, swap=0, adj=r[3] if len(r) > 3 else 0,
                                name=r[4] if len(r) > 4 else f"p{r[0]}"))
    vname = next((r[4] for r in rows if r[0] == victim and len(r) > 4), f"p{victim}")
    dom = f"oom_memcg={memcg['path']},task_memcg={memcg['path']}" if memcg else "global_oom,task_memcg=/"
    cons = "CONSTRAINT_MEMCG" if memcg else "CONSTRAINT_NONE"
    out.append(f"oom-kill:constraint={cons},nodemask=(null),cpuset=/,mems_allowed=0,{dom},task={vname},pid={victim},uid=0")
    prefix = "Memory cgroup out of memory" if memcg else "Out of memory"
    out.append(f"{prefix}: Killed process {victim} ({vname}) total-vm:8kB, anon-rss:4kB, file-rss:0kB, "
               "shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0")
    return "\n".join(pre(ts + i * 1e-5) + line for i, line in enumerate(out)) + "\n"


def analyze(text):
    return [a.to_dict() for a in analyze_events(parse_text(text))]


def test_largest_wins_and_T_is_recovered():
    (d,) = analyze(report68([(10, 500), (11, 900), (12, 100)], 11, ram=1_000_500, reserved=500, swap_kb=4000))
    assert d["verdict"] == "agrees" and d["model_victim"]["pid"] == 11 and d["kernel_era"] == "5.9+"
    assert d["totalpages"] == 1_000_000 + 1000 and d["totalpages_exact"] is True
    assert d["constraint"] == "CONSTRAINT_NONE" and d["cgroup"] is None
    assert [t["pid"] for t in d["tasks"]][:3] == [11, 10, 12] and len(d["tasks"]) == 5
    assert d["explanation"]["margin"] == 400 and d["explanation"]["runner_up"]["pid"] == 10


def test_tie_goes_to_the_later_task_on_5_9_plus():
    (d,) = analyze(report68([(10, 700), (11, 700)], 11))
    assert d["verdict"] == "agrees"
    # the kernel killing the earlier one of an exact tie is a disagreement, and a near tie is named as such
    (d,) = analyze(report68([(10, 700), (11, 700)], 10))
    assert d["verdict"] == "disagrees" and "near tie" in d["reason"]


def test_negative_scores_5_9_versus_clamp_before():
    # T = 1_000_000 (T/1000 = 1000): adj -998 gives 1 - 998000 and 5000 - 998000
    rows = [(10, 1, 4096, -998, "pause"), (11, 5000, 4096, -998, "big")]
    cg = {"path": "/neg"}
    (d,) = analyze(report68(rows, 11, memcg=cg, limit_kb=4_000_000))
    assert d["verdict"] == "agrees" and d["tasks"][0]["badness"] == 5001 - 998_000
    # a 5.4 kernel clamps both to 1; CSS_TASK_ITER_PROCS (5.3+) makes the later task win that tie
    (d,) = analyze(report68(rows, 11, release="5.4.0-1", memcg=cg, limit_kb=4_000_000, table="4.19"))
    assert d["kernel_era"] == "5.3-5.8" and d["verdict"] == "agrees"
    assert {t["badness"] for t in d["tasks"] if t["pid"] in (10, 11)} == {1}


def test_adj_scaled_by_memcg_limit():
    # limit 100 MiB = 25600 pages -> T/1000 = 25; adj 1000 on a 1000-page task: 26000+ > 20000
    rows = [(10, 20000, 4096, 0, "big"), (11, 1000, 4096, 1000, "small")]
    (d,) = analyze(report68(rows, 11, memcg={"path": "/app"}, limit_kb=102400))
    assert d["constraint"] == "CONSTRAINT_MEMCG" and d["cgroup"] == "/app" and d["totalpages"] == 25600
    assert d["verdict"] == "agrees" and d["over_limit"]["percent"] == 100.0


def test_memcg_v2_swap_T_uses_the_host_swap_from_an_earlier_global_report():
    glob = report68([(5, 10)], 5, ram=1_000_000, swap_kb=40_000, ts=10.0)  # host swap = 10000 pages
    memcg = report68([(10, 2000), (11, 1000)], 10, memcg={"path": "/a", "swap_kb": 8000}, limit_kb=102400, ts=20.0)
    d = analyze(glob + memcg)[1]
    # v2: 25600 + min(swap.max 2000, host swap 10000) = 27600
    assert d["totalpages"] == 27600 and d["totalpages_exact"] is True


def test_previous_victim_is_not_a_candidate_again():
    first = report68([(10, 900), (11, 500)], 10, ts=10.0)
    second = report68([(10, 900), (11, 500)], 11, ts=20.0)  # 10 is still exiting, already reaped
    a, b = analyze(first + second)
    assert a["verdict"] == "agrees" and b["verdict"] == "agrees" and b["model_victim"]["pid"] == 11
    assert any("previous OOM victims" in n for n in b["notes"])
    t10 = next(t for t in b["tasks"] if t["pid"] == 10)
    assert t10["eligible"] is False and "MMF_OOM_SKIP" in t10["reason"]


def test_hosts_are_kept_apart():
    a = report68([(10, 900), (11, 500)], 10, host="alpha", ts=10.0)
    b = report68([(10, 900), (11, 500)], 10, host="beta", ts=10.5)
    da, db = analyze(a + b)
    assert (da["host"], db["host"]) == ("alpha", "beta") and db["verdict"] == "agrees"


def test_clear_disagreement_names_a_cause():
    (d,) = analyze(report68([(10, 90000), (11, 500)], 11))
    assert d["verdict"] == "disagrees" and d["model_victim"]["pid"] == 10 and "11" in d["reason"]


RHEL6 = """\
Mar  1 10:00:00 db1 kernel: java invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0
Mar  1 10:00:00 db1 kernel: Pid: 31995, comm: java Not tainted 2.6.32-642.11.1.el6.x86_64 #1
Mar  1 10:00:00 db1 kernel: Total swap = 0kB
Mar  1 10:00:00 db1 kernel: 2097151 pages RAM
Mar  1 10:00:00 db1 kernel: 81869 pages reserved
Mar  1 10:00:00 db1 kernel: [ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name
Mar  1 10:00:00 db1 kernel: [  501]     0   501     5000      300   0     -17         -1000 udevd
Mar  1 10:00:00 db1 kernel: [ 1001]  1000  1001   100000    50000   1       0             0 vim
Mar  1 10:00:00 db1 kernel: [ 1002]  1000  1002   900000   880000   0       0             0 java
Mar  1 10:00:00 db1 kernel: Out of memory: Kill process 1002 (java) score 436 or sacrifice child
Mar  1 10:00:00 db1 kernel: Killed process 1002, UID 1000, (java) total-vm:3600000kB, anon-rss:3520000kB, file-rss:0kB
"""


def test_vendor_backport_format_wins_over_release():
    (d,) = analyze(RHEL6)
    assert d["kernel_era"] == "2.6.36-3.1" and "format of 2.6.36+" in d["era_source"] and "backport" in d["era_source"]
    # T = 2097151 - 81869 = 2015282; 880000*1000/2015282 = 436
    assert d["verdict"] == "agrees" and d["score_check"]["matches"] is True


def test_filtered_and_missing_tables_are_undecidable():
    text = report68([(10, 900), (11, 500)], 10)
    lines = [ln for ln in text.splitlines() if "[     11]" not in ln and "[      2]" not in ln]
    (d,) = analyze("\n".join(lines[:-3]) + "\n")  # drop the summary and kill lines too
    assert d["verdict"] == "undecidable"
    (d,) = analyze("[  1.0] Out of memory: Killed process 77 (x) total-vm:8kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB\n")
    assert d["verdict"] == "undecidable" and "no task table" in d["reason"] and d["kernel_victim"]["pid"] == 77


def test_cli_json_contract_gzip_and_exit_codes(tmp_path):
    p = tmp_path / "kern.log.gz"
    p.write_bytes(gzip.compress(report68([(10, 900), (11, 500)], 10).encode()))
    r = CliRunner().invoke(cli, ["postmortem", "--json", str(p)])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.output)["events"][0]
    for k in ("source", "kernel_era", "constraint", "cgroup", "totalpages", "kernel_victim", "killed",
              "model_victim", "verdict", "reason", "tasks"):
        assert k in ev
    assert ev["killed"] == [{"pid": 10, "name": "p10"}] and ev["tasks"][0]["pid"] == 10 and len(ev["tasks"]) == 4
    noise = tmp_path / "noise.log"
    noise.write_text("hello\nworld\n")
    r = CliRunner().invoke(cli, ["postmortem", str(noise)])
    assert r.exit_code == 0 and "no OOM event found" in r.output
    r = CliRunner().invoke(cli, ["postmortem", str(tmp_path / "missing.log")])
    assert r.exit_code == 7 and "hint:" in r.output
    r = CliRunner().invoke(cli, ["postmortem", str(p)])
    assert r.exit_code == 0 and "verdict: agrees" in r.output


def test_64k_pages_are_detected_from_the_kill_line():
    # arm64 with 64 KiB pages: limit 102400 kB = 1600 pages (not 25600); the kill line's kB/rss ratio is 64
    rows = [(10, 1200, 65536, 0, "big"), (11, 100, 65536, 1000, "small")]
    text = report68(rows, 10, memcg={"path": "/arm"}, limit_kb=102400)
    # (every kB value of the kill line is a whole number of 64 KiB pages: total_vm 2400 pages)
    text = text.replace("total-vm:8kB, anon-rss:4kB, file-rss:0kB",
                        f"total-vm:{2400 * 64}kB, anon-rss:{1200 * 64}kB, file-rss:0kB")
    (d,) = analyze(text)
    assert d["totalpages"] == 1600 and any("64 KiB pages" in n for n in d["notes"])
    # T//1000 = 1: small = 100 + 1 (64 KiB page tables) + 1000 = 1101 < big = 1200 + 1: the kernel's pick agrees;
    # with 4 KiB pages (T//1000 = 25) small would have scored 25116 and the verdict would flip
    assert d["verdict"] == "agrees" and d["model_victim"]["pid"] == 10
    assert next(t for t in d["tasks"] if t["pid"] == 11)["badness"] == 100 + 1 + 1000


def test_already_exiting_victim_without_kill_line_gets_a_verdict():
    # Regression (mypy --strict found it): a report with a task table and "OOM victim ... is already
    # exiting. Skip killing the task" but no kill line unpacked a 3-tuple into two names and crashed.
    text = report68([(10, 500), (11, 900), (12, 100)], 11)
    lines = [line for line in text.splitlines() if "Killed process" not in line and "oom-kill:" not in line]
    lines.append("[  100.000100] Memory cgroup out of memory: OOM victim 11 (p11) is already exiting. "
                 "Skip killing the task")
    (d,) = analyze("\n".join(lines) + "\n")
    assert d["verdict"] == "agrees" and "already exiting" in d["reason"] and d["model_victim"]["pid"] == 11
    result = CliRunner().invoke(cli, ["postmortem", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output

# ------------------------------------------------------------------ memcg v2 with swap: T only bounded
# Real reports from Debian's 6.12 in a qemu guest (tests/vm): a cgroup whose sw64 lives in zram swap
# (swap: usage 65536kB, limit 67584kB), memory.max 49656 kB, adj800 at oom_score_adj 800. A memcg
# report does not print the host's total swap; the swap the cgroup uses proves at least that much.
_VM_DATA = Path(__file__).resolve().parents[1] / "data" / "oomreport"


def _vm_events(*names: str, edit: tuple[str, str] | None = None) -> list[dict]:
    text = "".join((_VM_DATA / n).read_text() for n in names)
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    return [a.to_dict() for a in analyze_events(parse_text(text, "vm"))]


def test_memcg_swap_in_use_bounds_T_and_the_kernels_choice_agrees() -> None:
    (ev,) = _vm_events("6.12-memcg-v2-swap.log")
    # T = 49656/4 + min(67584/4, total swap >= 65536/4) = 12414 + 16384..16896
    assert ev["totalpages_range"] == [28798, 29310]
    assert ev["totalpages"] == 28798
    # with the total swap taken as 0 (T = 12414, T//1000 = 12) the model would pick sw64 (19099 > 13318)
    assert ev["verdict"] == "agrees", ev["reason"]
    assert ev["model_victim"]["pid"] == ev["kernel_victim"]["pid"] == 298


def test_an_earlier_report_without_swap_does_not_cap_a_later_memcg_reports_swap() -> None:
    # the global report says "Total swap = 0kB"; swap was turned on before the memcg OOM
    g, m = _vm_events("6.12-global-noswap.log", "6.12-memcg-v2-swap.log")
    assert g["verdict"] == "agrees"
    assert m["totalpages_range"] == [28798, 29310]
    assert m["verdict"] == "agrees", m["reason"]


def test_memcg_swap_range_that_changes_the_choice_is_undecidable() -> None:
    # adj 540: adj800's row scores 3718 + 540*28 = 18838 < sw64's 19099 at T//1000 = 28, but 19378 at 29
    (ev,) = _vm_events("6.12-memcg-v2-swap.log", edit=("           800 adj800", "           540 adj800"))
    assert ev["verdict"] == "undecidable"
    assert "28798..29310" in ev["reason"]
