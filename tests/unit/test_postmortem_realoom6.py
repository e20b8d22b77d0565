"""Real OOM reports (tests/data/postmortem/realoom6, sources in SOURCES.tsv) whose log states something oomlens
missed or misstated: a selection line that proves the table complete, the oom_kill_allocating_task policy, the
processes killed for sharing the victim's memory, the panic after init was killed, the formats that date a report,
and wording (None in the text, ties, '--' mail footers, margins against the kernel's choice).

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md and the kernel
sources named in the comments), not copied from the tool's output."""

from __future__ import annotations

import io
from pathlib import Path

from realdata import analyses

from oomlens.analysis.postmortem import Verdict
from oomlens.cli.render import Screen, Writer, postmortem_event


def _one(name: str):  # type: ignore[no-untyped-def]
    (a,) = analyses("realoom6", name)
    return a


def _human(a, verbose: bool = False) -> str:  # type: ignore[no-untyped-def]
    w = Writer(Screen(False, None, None))
    w._out = io.StringIO()
    postmortem_event(a, verbose=verbose, writer=w)
    return w._out.getvalue()  # type: ignore[attr-defined,no-any-return]


# --------------------------------------------------------------------------- L1: a selection line after the table

def test_003_a_selection_line_after_the_table_proves_it_complete() -> None:
    # 3.13: oom_kill_process() calls dump_header() (which runs dump_tasks()) and only then prints "Kill process ...
    # score S or sacrifice child": the selection line after the table proves the table complete, though the input
    # ends before the kill line. T = 130972 - 5489 + 1023996/4 = 381482; mysqld 731 + 15800 + 89 = 16620 pages,
    # beam 0 + 9920 + 63 = 9983; 16620 * 1000 // 381482 = 43, the printed score; any T with
    # 16620000 // T == 43 prints it: 16620000 // 44 + 1 = 377728 .. 16620000 // 43 = 386511.
    a = _one("003")
    assert a.event.table is not None and not a.event.table.truncated
    assert a.verdict == Verdict.AGREES and a.model_victim is not None and a.model_victim.pid == 30705
    assert a.reason is not None and "'Killed process' line is not in the log" in a.reason
    assert a.score_check is not None and a.score_check.matches and a.score_check.printed == 43
    assert a.totalpages == 381482 and "377728..386511" in (a.totalpages_how or "")
    text = _human(a)
    assert "kernel selected: 30705 (mysqld) score 43 (the model's score for it too)" in text


# --------------------------------------------------------------------------- L2: vm.oom_kill_allocating_task

def test_004_the_allocating_task_policy_decides_not_a_badness_of_zero() -> None:
    # "Out of memory (oom_kill_allocating_task): Kill process 6344 (sh) score 0 or sacrifice child": with the
    # sysctl set the kernel kills current (the "Pid: 6344, comm: sh" of the header) without a scan and prints 0;
    # up to 5.0 a child may die in its place: "Killed process 6345 (sleep)". The table plays no part (and there is
    # none): the kernel did what the policy says. T = 16777200 - 665251 + 134217724/4 = 49666380.
    a = _one("004")
    assert a.verdict == Verdict.AGREES
    assert a.reason is not None and "vm.oom_kill_allocating_task=1" in a.reason and "6344 (sh)" in a.reason
    assert "6345 (sleep)" in a.reason
    assert a.totalpages == 49666380
    text = _human(a)
    assert "by vm.oom_kill_allocating_task=1" in text and "score 0 is no badness" in text
    assert "model picks: the allocating task" in text


# --------------------------------------------------------------------------- L3, T5: sharers and an exact tie

def test_012_processes_killed_for_sharing_the_memory_are_reported() -> None:
    # 4.3: after "Killed process 3780" the kernel printed "Kill process N (rcu-stall) sharing same memory" for
    # every other process using the victim's mm: 22 such lines in this excerpt, 3781 first, 4780 last
    a = _one("012")
    sharing = a.to_dict()["sharing_killed"]
    assert len(sharing) == 22
    assert sharing[0] == {"pid": 3781, "name": "rcu-stall"} and sharing[-1] == {"pid": 4780, "name": "rcu-stall"}
    assert "also killed, sharing the victim's memory: 3781 (rcu-stall), 3782 (rcu-stall)" in _human(a)


def test_012_an_exact_tie_is_called_a_tie_settled_by_scan_order() -> None:
    # both rows: 392717 rss + 0 swap + 777 nr_ptes + 6 nr_pmds (4.0-4.14) = 393500 pages: a tie, which 4.0-4.6
    # global OOMs settle for the first one scanned (3.14-4.6: points >= best, a thread never replaces its own
    # leader). Any oom_score_adj below 0 on 3780 lowers it below 4780: -1 spares it.
    a = _one("012")
    text = _human(a)
    assert ("why: a tie: rcu-stall (3780) and rcu-stall (4780) both score 393500 pages; 4.0-4.6 kernels keep the "
            "first of equal scores") in text
    assert "led rcu-stall by 0" not in text
    assert a.explanation is not None and a.explanation.spare_adj == -1


# --------------------------------------------------------------------------- L8, T9, T10: oom.group killed init

def test_005_the_panic_after_init_was_killed_is_the_outcome() -> None:
    # memory.oom.group /test1 killed pid 1 (systemd) among its members; 0.2 s later init's do_exit() panicked:
    # "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000008b"
    a = _one("005")
    assert a.event.panic is not None and a.event.panic.startswith("Attempted to kill init!")
    assert a.to_dict()["panic"] == a.event.panic
    assert any("global init (pid 1) was killed by memory.oom.group /test1" in n for n in a.all_notes)
    assert "then: Kernel panic - not syncing: Attempted to kill init!" in _human(a)


def test_005_quoted_repeats_are_not_the_oom_group_double_print() -> None:
    # the patch description quotes the kill and reaper lines of pid 1 again; the group's victim, 9188, was printed
    # once: the repeat is a copy, and pid 1 was reaped once
    a = _one("005")
    assert [r.pid for r in a.event.reaped].count(1) == 1
    notes = a.all_notes
    assert any("pid 1: the same kill printed again" in n for n in notes)
    assert not any("memory.oom.group prints the victim twice" in n for n in notes)


def test_005_and_011_memcg_t_with_unknown_swap_is_a_lower_bound() -> None:
    # 005 (v1): limit 51200 kB = 12800 pages, memory+swap unlimited; 011 (v2): limit 1024 kB = 256 pages, swap.max
    # unlimited. The host's swap counts (swappiness != 0) but a memcg report does not print it: T >= the limit.
    a5, a11 = _one("005"), _one("011")
    for a, T in ((a5, 12800), (a11, 256)):
        assert a.totalpages == T and a.totalpages_at_least and a.to_dict()["totalpages_range"] == [T, None]
    # 011: every oom_score_adj is 0 (and 5.x has no root bonus): no T changes the choice; stress 56 + 56349 +
    # 499712 // 4096 = 56527 pages, bash 884 + 29 + 53248 // 4096 = 926
    assert a11.verdict == Verdict.AGREES
    text = _human(a11)
    assert "T ≥ 256 pages" in text and "(approximate)" not in text


# --------------------------------------------------------------------------- L4, L9: what dates a report

def test_013_a_kill_line_without_prefix_dates_the_report() -> None:
    # "Killed process 7558 (a.out) total-vm:..., shmem-rss:0kB" with no "Out of memory:" prefix: up to 5.0
    # (5.1's bbbe48029720 moved the message onto the kill line)
    a = _one("013")
    assert a.evidence_range is not None and a.evidence_range[1] == (5, 0, 9999)
    # (its oom_reaper lines: 4.6+, aac453635549; RHEL/CentOS 7's 3.10 has no reaper)
    assert a.era_range_text == "4.6–5.0" and a.era is not None and a.era.name == "4.17-5.0"


def test_016_a_prefixed_kill_line_without_uid_dates_the_report() -> None:
    # "Out of memory: Killed process 15784 (python3) ..., shmem-rss:0kB": the prefix is 5.1+, the missing UID: field
    # before 5.3/5.4 (8ac3f8fe91a2): 5.1-5.3 at the widest
    evs = analyses("realoom6", "016")
    assert len(evs) == 4
    for a in evs:
        assert a.evidence_range == ((5, 1, 0), (5, 3, 9999)) and a.era_range_text == "5.1–5.3"


def test_007_res_counter_unlimited_value_dates_the_report() -> None:
    # "memory+swap: usage 2047696kB, limit 9007199254740991kB": LLONG_MAX >> 10, res_counter's "unlimited" before
    # RES_COUNTER_MAX became ULLONG_MAX (3.13 prints 18014398509481983kB) and long before page counters (3.19,
    # 9007199254740988kB). With "score S or sacrifice child" (2.6.36-5.0): 2.6.36-3.12, so the 3.5-3.13 rules.
    a = _one("007")
    assert a.era is not None and a.era.name == "3.5-3.13"
    assert a.era_range_text == "2.6.36–3.12"
    assert a.totalpages == 2047696 // 4


def test_026_the_header_without_order_is_before_2_6_16() -> None:
    # "oom-killer: gfp_mask=0x1d2" without ", order=": 2.6.16 printed "oom-killer: gfp_mask=0x%x, order=%d"
    evs = analyses("realoom6", "026")
    assert len(evs) == 10
    assert all(a.era is not None and a.era.name == "<=2.6.15" for a in evs)
    text = _human(evs[0])
    assert "allocating task: not named by this header, gfp=0x1d2" in text and "None" not in text


# --------------------------------------------------------------------------- T1: no None in the text

def test_022_no_python_none_in_the_text() -> None:
    # 2.6.16's "oom-killer: gfp_mask=0xd0, order=1" names no allocating task
    for a in analyses("realoom6", "022"):
        text = _human(a, verbose=True)
        assert "None" not in text
    assert "allocating task: not named by this header, order=1 gfp=0xd0" in _human(analyses("realoom6", "022")[0])


# --------------------------------------------------------------------------- T2: '--' after a report

def test_004_and_020_a_mail_footer_is_no_grep_separator() -> None:
    # the '--' is the list footer ("To unsubscribe ...") after the report's last line: nothing was omitted
    for name in ("004", "020"):
        a = _one(name)
        assert not any("'--' separator" in n for n in a.all_notes), name
        assert "grep-separator" not in a.event.format_hints


# --------------------------------------------------------------------------- T3, T4: a patched table, margins

def test_019_a_patched_table_column_is_named_and_margins_are_against_the_kernel() -> None:
    # the header carries "(01)nrss", which no mainline kernel prints (an out-of-tree per-node patch): the table is
    # complete, the kernel's rules are not the modelled ones. The kernel killed 13135; the margins are against it:
    # 12399: 1311056 + 0 + 10534912 // 4096 (2572) = 1313628; 13135: 674666 + 5439488 // 4096 (1328) = 675994;
    # 1313628 - 675994 = +637634
    a = _one("019")
    assert a.verdict == Verdict.UNDECIDABLE
    assert a.reason is not None and "(01)nrss" in a.reason and "patched kernel" in a.reason
    assert not any("without their header" in n for n in a.all_notes)
    assert a.kernel_row == 13135
    text = _human(a)
    assert "vs KERNEL PICK" in text and "vs VICTIM" not in text
    row = next(line for line in text.splitlines() if line.split()[:2] == ["1", "12399"])
    assert row.split()[-1] == "+637634" and "1313628" in row


# --------------------------------------------------------------------------- T6, T7: no pick from a partial table

def test_014_no_pick_from_a_table_grep_filtered() -> None:
    # "dmesg | grep oom" kept one row, systemd-oomd (its name holds "oom"); the killed plymouthd (265) is no row
    a = analyses("realoom6", "014")[0]
    text = _human(a)
    assert "model picks: — (the task table is incomplete" in text
    assert "model picks: 963" not in text


def test_020_no_pick_from_the_whole_machine_table_of_a_memcg_panic() -> None:
    # panic_on_oom=2 on 3.10: check_panic_on_oom() printed dump_header(memcg=NULL): the machine's Mem-Info and every
    # process, while the OOM is a memcg one (mem_cgroup_oom_synchronize): its members are not in the log
    a = _one("020")
    assert a.verdict == Verdict.UNDECIDABLE and a.model_victim is None
    assert any("lists every process of the machine" in n for n in a.all_notes)


# --------------------------------------------------------------------------- T11: the excerpt stops inside

def test_028_the_input_ends_inside_the_report() -> None:
    # the excerpt stops inside the call trace: no Mem-Info, table or kill line follow
    a = _one("028")
    assert "the input ends inside this report" in a.all_notes


# =========================================================================== synthetic: one rule each, and what
# must not change (reports built from the kernel's printk formats, spec §6)

def _events(text: str) -> list:  # type: ignore[type-arg]
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.oomreport import parse_text

    return list(analyze_events(parse_text(text), strict=True))


def _stamp(lines: list[str], t0: float = 100.0) -> str:
    return "".join(f"[{t0 + i * 1e-5:12.6f}] {line}\n" for i, line in enumerate(lines))


_HEAD_313 = ["app invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0",
             "CPU: 0 PID: 300 Comm: app Not tainted 3.13.0-27-generic #50-Ubuntu",
             "Mem-Info:", "Free swap  = 0kB", "Total swap = 0kB", "262144 pages RAM", "6144 pages reserved",
             "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name"]
_ROWS_313 = ["[  100]  1000   100    10000     5000      20        0             0 a",
             "[  200]  1000   200    20000    10000      30        0             0 b",
             "[  300]  1000   300     3000     1000      10        0             0 app"]


def test_synthetic_selection_line_at_the_end_proves_the_table_complete() -> None:
    # T = 262144 - 6144 = 256000; b: 10000 + 0 + 30 = 10030 pages, 10030 * 1000 // 256000 = 39 (the printed score);
    # every T with 10030000 // T == 39: 10030000 // 40 + 1 = 250751 .. 10030000 // 39 = 257179
    (a,) = _events(_stamp(_HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 200 (b) score 39 or sacrifice child"]))
    assert a.event.table is not None and not a.event.table.truncated
    assert a.verdict == Verdict.AGREES and a.reason is not None and "selection" in a.reason
    assert "250751..257179" in (a.totalpages_how or "")
    # without the selection line the input ends inside the table's report: incomplete, undecidable
    (b,) = _events(_stamp(_HEAD_313 + _ROWS_313))
    assert b.event.table is not None and b.event.table.truncated and b.verdict == Verdict.UNDECIDABLE
    # a selection of a task the complete table lacks is named as the selected task, not as a "victim None"
    (c,) = _events(_stamp(_HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 999 (x) score 39 or sacrifice child"]))
    assert c.reason is not None and "selected task 999" in c.reason and "None" not in c.reason


_S04 = (Path(__file__).resolve().parents[1] / "data" / "oomreport" / "synthetic" / "s04-allocating-task.log")


def test_synthetic_allocating_task_policy_checks_the_allocating_task() -> None:
    text = _S04.read_text()
    (a,) = _events(text)
    assert a.verdict == Verdict.AGREES and a.allocating_task_policy and "5120 (loader)" in (a.reason or "")
    # the CPU line names another task than the policy's line: the lines are not of one report
    (b,) = _events(text.replace("CPU: 1 PID: 5120 Comm: loader", "CPU: 1 PID: 5999 Comm: loader"))
    assert b.verdict == Verdict.UNDECIDABLE and "do not come from one report" in (b.reason or "")
    # 5.1+: no selection line, the policy's prefix is on the kill line (no child is sacrificed any more)
    k = _stamp(["loader invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
                "CPU: 1 PID: 5120 Comm: loader Not tainted 5.10.0-9-amd64 #1",
                "Out of memory (oom_kill_allocating_task): Killed process 5120 (loader) total-vm:480000kB, "
                "anon-rss:279800kB, file-rss:200kB, shmem-rss:0kB, UID:1000 pgtables:600kB oom_score_adj:0"])
    (c,) = _events(k)
    assert c.verdict == Verdict.AGREES and c.allocating_task_policy
    # a plain selection is no policy kill
    (d,) = _events(_stamp(_HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 200 (b) score 39 or sacrifice child"]))
    assert not d.allocating_task_policy and "oom_kill_allocating_task" not in (d.reason or "")


_KILL_54 = ("Memory cgroup out of memory: Killed process {pid} ({name}) total-vm:43400kB, anon-rss:1228kB, "
            "file-rss:3992kB, shmem-rss:0kB, UID:0 pgtables:80kB oom_score_adj:0")
_INIT_PANIC = "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000008b"


def test_synthetic_init_panic_only_belongs_to_a_report_that_killed_init() -> None:
    (a,) = _events(_stamp([_KILL_54.format(pid=1, name="systemd"), "some other line", _INIT_PANIC]))
    assert a.event.panic is not None and a.event.panic.startswith("Attempted to kill init!")
    assert any("global init (pid 1) was killed" in n for n in a.all_notes)
    # init died after a report that killed another pid: not that report's outcome, and no report of its own
    (b,) = _events(_stamp([_KILL_54.format(pid=4242, name="a.out"), _INIT_PANIC]))
    assert b.event.panic is None and not any("global init" in n for n in b.all_notes)
    assert _events(_stamp(["foo: bar", _INIT_PANIC])) == []


def test_synthetic_grep_separator_only_inside_a_report() -> None:
    lines = _HEAD_313 + _ROWS_313[:2] + ["--"] + _ROWS_313[2:] + [
        "Out of memory: Kill process 200 (b) score 39 or sacrifice child",
        "Killed process 200 (b) total-vm:80000kB, anon-rss:40000kB, file-rss:0kB"]
    (a,) = _events(_stamp(lines))
    assert any("'--' separator" in n for n in a.all_notes) and a.event.table is not None and a.event.table.truncated
    # after the report's last line, a '--' (a mail footer, or grep's separator before unrelated text) omits nothing
    (b,) = _events(_stamp(lines[:-4] + lines[-3:]) + "--\nTo unsubscribe, send a message\n")
    assert not any("'--' separator" in n for n in b.all_notes)
    assert b.event.table is not None and not b.event.table.truncated


def test_synthetic_a_repeated_kill_line_is_a_copy_unless_oom_group_repeats_its_victim() -> None:
    kill = "Killed process 200 (b) total-vm:80000kB, anon-rss:40000kB, file-rss:0kB"
    (a,) = _events(_stamp(_HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 200 (b) score 39 or sacrifice child",
                                                   kill, kill]))
    assert any("pid 200: the same kill printed again" in n for n in a.all_notes)
    # memory.oom.group prints its victim (7711) before and during the group kill: that repeat keeps its reason
    (g,) = _events((_S04.parent / "s03-oom-group-multikill.log").read_text())
    assert any("pid 7711: memory.oom.group prints the victim twice" in n for n in g.all_notes)


def test_synthetic_the_kill_line_dates_a_report_alone() -> None:
    from oomlens.analysis.postmortem import format_range

    def rng(line: str) -> tuple:  # type: ignore[type-arg]
        (a,) = _events(_stamp([line]))
        lo, hi, _ = format_range(a.event)
        return lo, hi

    tail = "total-vm:8kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB"
    # no prefix: up to 5.0; shmem-rss: 4.5+, and RHEL/CentOS 7's 3.10 prints it too: 3.10 at the lowest
    assert rng(f"Killed process 10 (a) {tail}") == ((3, 10, 0), (5, 0, 9999))
    assert rng(f"Out of memory: Killed process 10 (a) {tail}") == ((5, 1, 0), (5, 3, 9999))  # prefix, no UID
    # what must not move: the UID/pgtables line (5.3+) and 2.4's own prefixed line
    assert rng(f"Out of memory: Killed process 10 (a) {tail}, UID:0 pgtables:4kB oom_score_adj:0") == ((5, 3, 0), None)
    assert rng("Out of Memory: Killed process 10 (a).")[0] == (0, 0, 0)


def test_synthetic_res_counter_unlimited_dates_a_memcg_report() -> None:
    from oomlens.analysis.postmortem import format_range

    def rng(memsw_limit: int) -> tuple:  # type: ignore[type-arg]
        (a,) = _events(_stamp(["memory: usage 1024kB, limit 1024kB, failcnt 1",
                               f"memory+swap: usage 1024kB, limit {memsw_limit}kB, failcnt 0",
                               "Memory cgroup out of memory: Kill process 10 (a) score 900 or sacrifice child"]))
        lo, hi, _ = format_range(a.event)
        return lo, hi

    # LLONG_MAX >> 10 (res_counter up to 3.11/3.12), ULLONG_MAX >> 10 (3.12/3.13-3.18); the selection line: 2.6.36-5.0
    assert rng(9007199254740991) == ((2, 6, 36), (3, 12, 9999))
    assert rng(18014398509481983) == ((3, 12, 0), (3, 18, 9999))
    # the page counters' value dates nothing (RHEL 7's 3.10 backports them), nor does a set limit
    assert rng(9007199254740988) == rng(4096) == ((2, 6, 36), (5, 0, 9999))


def test_synthetic_patched_table_header() -> None:
    from oomlens.oomreport.parse import parse_dump_tasks_header, parse_patched_tasks_header

    patched = "[  pid  ]   uid  tgid total_vm      rss (01)nrss  pgtables_bytes swapents oom_score_adj name"
    assert parse_patched_tasks_header(patched) is not None and parse_dump_tasks_header(patched) is None
    # not a patched header: three unknown columns, no tgid, or nothing unknown (the kernel's own header)
    assert parse_patched_tasks_header("[ pid ]   uid  tgid total_vm      rss a b c name") is None
    assert parse_patched_tasks_header("[ pid ]   uid  total_vm      rss extra name") is None
    assert parse_patched_tasks_header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name") is None
    # nor a kernel column cut in two by a wrap or a terminal's padding ("o" + "om_score_adj")
    assert parse_patched_tasks_header("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents o om_score_adj "
                                      "name") is None


_ROW68 = "[{pid:>7}] {uid:>5} {pid:>5} {vm:>8} {rss:>8} {rss:>8} {z:>8} {z:>9} {pt:>8} {z:>8}         {adj:>5} {name}"


def _report68(rows: list[tuple[int, int, str]], killed: int) -> str:
    lines = ["alloc invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
             "CPU: 1 UID: 0 PID: 4242 Comm: alloc Not tainted 6.8.0-45-generic #1",
             "Mem-Info:", "Total swap = 0kB", "1000000 pages RAM", "0 pages reserved",
             "Tasks state (memory values in pages):",
             "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents "
             "oom_score_adj name"]
    lines += [_ROW68.format(pid=p, uid=1000, vm=rss * 2, rss=rss, z=0, pt=4096, adj=0, name=n) for p, rss, n in rows]
    name = next(n for p, _, n in rows if p == killed)
    lines += [f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,"
              f"task={name},pid={killed},uid=1000",
              f"Out of memory: Killed process {killed} ({name}) total-vm:8kB, anon-rss:4kB, file-rss:0kB, "
              "shmem-rss:0kB, UID:1000 pgtables:4kB oom_score_adj:0"]
    return _stamp(lines)


def test_synthetic_a_tie_names_the_era_tie_rule() -> None:
    # 5.9+: points >= best, so the last of equal scores wins; p10 and p11: 500 + 0 + 1 = 501 pages each
    (a,) = _events(_report68([(2, 1, "sshd"), (10, 500, "p10"), (11, 500, "p11")], 11))
    text = _human(a)
    assert "why: a tie: p11 (11) and p10 (10) both score 501 pages; 5.9+ kernels keep the last of equal scores" in text
    # no tie: the lead, not a tie
    (b,) = _events(_report68([(2, 1, "sshd"), (10, 400, "p10"), (11, 500, "p11")], 11))
    assert "why: p11 (11) led p10 (10) by 100 pages" in _human(b)


def test_synthetic_margins_are_against_the_kernel_choice() -> None:
    # the kernel killed p10 (401 pages) while the model picks p11 (501): the margins are against the kernel's
    # choice, which is +0; p11 is +100
    (a,) = _events(_report68([(2, 1, "sshd"), (10, 400, "p10"), (11, 500, "p11")], 10))
    assert a.verdict == Verdict.DISAGREES
    text = _human(a)
    assert "vs KERNEL PICK" in text
    rows = {line.split()[1]: line.split()[-1] for line in text.splitlines() if line[:1].isdigit()}
    assert rows["10"] == "+0" and rows["11"] == "+100"
    # the kernel's victim is no row: the margins stay against the model's pick, and say so
    (b,) = _events(_report68([(2, 1, "sshd"), (10, 400, "p10"), (11, 500, "p11")], 11).replace(
        "Killed process 11 (p11)", "Killed process 77 (p77)").replace("task=p11,pid=11", "task=p77,pid=77"))
    assert "vs MODEL PICK" in _human(b)


def test_synthetic_no_pick_shown_from_a_filtered_table() -> None:
    (a,) = _events(_report68([(10, 400, "p10"), (11, 500, "p11")], 11))   # a global table of 2 rows: filtered
    assert a.event.table is not None and a.event.table.filtered
    assert "model picks: — (the task table is incomplete; of the rows in the log, 11 (p11)" in _human(a)
    (b,) = _events(_report68([(2, 1, "sshd"), (10, 400, "p10"), (11, 500, "p11")], 11))
    assert "model picks: 11 (p11)\n" in _human(b)


def test_synthetic_memcg_t_lower_bound_only_when_swap_counts() -> None:
    def memcg(memsw: str) -> object:
        # the x86_64 release pins 4 KiB pages (T in pages does not depend on an assumed page size)
        (a,) = _events(_stamp(["CPU: 0 PID: 10 Comm: a Not tainted 3.10.0-957.el7.x86_64 #1",
                               "memory: usage 4096kB, limit 4096kB, failcnt 1",
                               f"memory+swap: usage 4096kB, limit {memsw}kB, failcnt 0",
                               "Memory cgroup out of memory: Kill process 10 (a) score 900 or sacrifice child"]))
        return a

    # memory+swap unlimited: the host's swap (not printed) adds to the 1024 pages
    a = memcg("9007199254740988")
    assert a.totalpages == 1024 and a.totalpages_at_least  # type: ignore[attr-defined]
    # memory+swap = memory: no swap room, T is the limit exactly
    b = memcg("4096")
    assert b.totalpages == 1024 and not b.totalpages_at_least and b.totalpages_exact  # type: ignore[attr-defined]


def test_synthetic_no_none_when_the_selection_line_is_cut() -> None:
    (a,) = _events(_stamp(_HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 200 (b) score"]))
    text = _human(a)
    assert "None" not in text and "kernel selected: 200 (b) score not in the log" in text


def test_synthetic_sharing_kills_are_listed_and_absent_when_none() -> None:
    base = _HEAD_313 + _ROWS_313 + ["Out of memory: Kill process 200 (b) score 39 or sacrifice child",
                                    "Killed process 200 (b) total-vm:80000kB, anon-rss:40000kB, file-rss:0kB"]
    (a,) = _events(_stamp(base + ["Kill process 201 (b) sharing same memory"]))
    assert a.to_dict()["sharing_killed"] == [{"pid": 201, "name": "b"}]
    assert "also killed, sharing the victim's memory: 201 (b)" in _human(a)
    (b,) = _events(_stamp(base))
    assert b.to_dict()["sharing_killed"] == [] and "sharing" not in _human(b)
