"""Real reports from outside the corpus (tests/data/oomreport/realworld, sources in SOURCES.tsv) that the parser
missed: RHEL 7's kill line with ``, UID N,``, RHEL's taint flags before the release, fragments that are only an
OOM panic, and call traces without symbols. Expected values are read off the logs."""

from __future__ import annotations

from pathlib import Path

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import parse_text
from oomlens.oomreport.parse import Kind, classify, parse_dump_stack_print_info

REAL = Path(__file__).parents[2] / "data" / "oomreport" / "realworld"


def events(name: str):  # type: ignore[no-untyped-def]
    return list(parse_text((REAL / name).read_text(), name))


def test_rhel7_kill_line_with_uid_after_the_name() -> None:
    (ev,) = events("022-jp-notes-rhel7-grep-kill.log")
    (k,) = ev.killed
    assert (k.pid, k.name, k.uid, k.variant) == (17143, "java", 1001, "rhel7")
    assert (k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (7790724, 4108910, 6822, 0)
    assert ev.selection is not None and (ev.selection.pid, ev.selection.score) == (17143, 468)


def test_a_quoted_burst_of_rhel7_kill_lines_is_eight_events() -> None:
    evs = events("018-k8s-issue-50632-quoted-killed-burst.log")
    assert [e.victim_pid for e in evs] == [799153, 799402, 799889, 799707, 799791, *[e.victim_pid for e in evs[5:]]]
    assert len(evs) == 8 and all(e.killed[0].uid == 1000 and e.killed[0].name == "node" for e in evs)


def test_a_rhel7_kill_line_cut_mid_field_keeps_what_it_shows() -> None:
    kind, cut = classify("Killed process 17143 (java), UID 1001, total-vm:7790724kB, anon-rss:4108910kB, file-rss:68")
    k = cut.payload
    assert (k.pid, k.uid, k.anon_rss_kb, k.file_rss_kb, k.variant) == (17143, 1001, 4108910, None, "rhel7")


def test_rhel_taint_flags_before_the_release() -> None:
    line = "CPU: 9 PID: 14881 Comm: java Tainted: G    B          ------------ T 3.10.0-327.4.5.el7.x86_64 #1"
    cpu = parse_dump_stack_print_info(line)
    assert cpu is not None and (cpu.pid, cpu.comm, cpu.release) == (14881, "java", "3.10.0-327.4.5.el7.x86_64")
    cpu = parse_dump_stack_print_info("Pid: 7, comm: y Tainted: P           ---------------    2.6.32-642.el6.x86_64 #1")
    assert cpu is not None and cpu.release == "2.6.32-642.el6.x86_64"
    second = events("010-k8s-issue-56891-rhel7-dmesg-T-memcg-fragment.log")[-1]
    assert second.cpu is not None and second.cpu.release == "3.10.0-327.4.5.el7.x86_64"


def test_no_killable_processes_fragment_is_an_event() -> None:
    (ev,) = events("023-tempesta-issue-1789-no-killable-padded.log")
    assert ev.no_killable and ev.panic is not None and "deadlocked" in ev.panic
    (a,) = analyze_events([ev])
    assert a.verdict == "undecidable" and "no killable" in (a.reason or "")


def test_panic_on_oom_fragment_is_an_event() -> None:
    (ev,) = events("013-sonic-pr-2988-sysrq-f-panic_on_oom-3.16.log")
    assert ev.panic is not None and "compulsory panic_on_oom is enabled" in ev.panic
    (a,) = analyze_events([ev])
    assert a.verdict == "undecidable" and "panicked" in (a.reason or "")


def test_frames_without_symbols_keep_the_report_together() -> None:
    (ev,) = events("015-lore-riscv-5.6-no-killable-raw-frames.log")
    assert ev.invoked is not None and ev.invoked.comm == "swapper/0"
    assert ev.meminfo is not None and ev.meminfo.pages_ram == 2048 and ev.meminfo.pages_reserved == 666
    assert ev.table is not None and ev.table.rows == () and ev.no_killable
    assert classify("[<000000008011c2f2>] 0x000000008011c2f2")[0] == Kind.TRACE


def test_messages_glued_without_newlines_are_split() -> None:
    """2.6.2x printed these without a newline: one physical line holds two kills and two selections."""
    evs = events("012-lkml-2.6.2x-qemu-glued-no-newlines.log")
    killed = [k.pid for e in evs for k in e.killed]
    selected = [e.selection.pid for e in evs if e.selection is not None]
    assert killed[:1] == [19271] and 12475 in killed
    assert selected and set(selected) == {12475}
    assert all(e.selection is None or (e.selection.score, e.selection.wording) == (7899, "or a child") for e in evs)


def test_copy_mode_position_and_pasted_twice_lines() -> None:
    """A tmux copy-mode '[7/972]' ends the header line; four lines of the memcg block were pasted twice: still
    one report, which the model agrees with (46303 pages of 51200: printed score 904)."""
    (ev,) = events("003-gctt-go-leak-4.4-docker-memcg-dup-lines.log")
    assert ev.invoked is not None and ev.invoked.comm == "main"
    assert any("pasted twice" in n for n in ev.notes)
    (a,) = analyze_events([ev])
    assert a.verdict == "agrees" and a.event.victim_pid == 11344


def _analyzed(name: str):  # type: ignore[no-untyped-def]
    return list(analyze_events(events(name)))


def test_a_constraint_no_mainline_kernel_prints_is_undecidable_not_a_crash() -> None:
    (a,) = _analyzed("017-lkml-bpf-oom-6.x-constraint-bpf-psi-unlimited-memcg.log")
    assert a.verdict == "undecidable" and "CONSTRAINT_BPF_PSI_MEM" in (a.reason or "")
    assert "could not analyse" not in (a.reason or "")


def test_mempolicy_domain_is_not_called_global(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from oomlens.cli.main import cli

    r = CliRunner().invoke(cli, ["postmortem", str(REAL / "009-linux-mm-6.10-cxl-mempolicy-quoted-wrapped-snip.log")],
                           env={"COLUMNS": "200"})
    dom = next(ln for ln in r.stdout.splitlines() if ln.startswith("domain:"))
    assert "mempolicy" in dom and "global" not in dom


def test_a_report_the_input_ends_in_says_so_in_its_reason() -> None:
    (a,) = _analyzed("010-fstests-btrfs-6.12-arm64-64k-dd-adj250-no-kill.log")
    assert a.verdict == "undecidable"
    assert "the input ends inside the report, before any kill line" in (a.reason or "")
    assert "rows cut off" not in (a.reason or "")


def test_nothing_dates_the_report_reads_any_release() -> None:
    # the panic's own stack dump names the release (the report prints none itself): the report is dated by it
    (a,) = _analyzed("013-sonic-pr-2988-sysrq-f-panic_on_oom-3.16.log")
    assert a.kernel_release == "3.16.0-6-amd64" and a.era_name == "3.14-3.19"
    # without that CPU line nothing dates it
    text = "".join(line for line in (REAL / "013-sonic-pr-2988-sysrq-f-panic_on_oom-3.16.log").read_text()
                   .splitlines(keepends=True) if "CPU: 1 PID: 243" not in line)
    (b,) = list(analyze_events(parse_text(text)))
    assert b.era_range_text == "any release"  # was "0.0+"
