"""Whole-stream behaviour: reversed input, interleaved hosts, every prefix style over whole
reports, late and early oom_reaper lines, incremental yielding, chunk boundaries."""

from __future__ import annotations

import os
import re

import pytest
from oomreport_expect import DATA

from oomlens.oomreport import OomEvent, iter_events, parse_text
from oomlens.oomreport.normalize import Normalizer

CORPUS = os.path.join(DATA, "corpus")
SYNTH = os.path.join(DATA, "synthetic")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _digest(ev: OomEvent) -> tuple:
    """What must not depend on how the text was wrapped: no line numbers, hints, notes."""
    t = ev.table
    return (ev.victim_pid, ev.victim_name, ev.kernel_release, ev.domain, ev.constraint,
            ev.oom_memcg, ev.task_memcg, ev.selection and ev.selection.score,
            ev.invoked and (ev.invoked.comm, ev.invoked.pid, ev.invoked.order),
            ev.meminfo and (ev.meminfo.pages_ram, ev.meminfo.pages_reserved, ev.meminfo.total_swap_kb),
            ev.memcg and (ev.memcg.limit_kb, ev.memcg.swap_limit_kb, ev.memcg.memsw_limit_kb),
            t and (t.variant, sorted((r.pid, r.rss, r.swapents, r.oom_score_adj, r.name) for r in t.rows)),
            tuple(k.pid for k in ev.killed), tuple(r.pid for r in ev.reaped), ev.sysrq)


# --------------------------------------------------------------------------------------------
# reversed input (journalctl -r, tac)

def _reverse_records(text: str) -> str:
    """journalctl -r: entries newest first; the lines of one multi-line entry keep their order."""
    records: list[list[str]] = []
    for line in text.splitlines():
        if records and line[:1] == " " and re.match(r"\s{20,}\S", line):
            records[-1].append(line)
        else:
            records.append([line])
    return "\n".join(line for rec in reversed(records) for line in rec) + "\n"


@pytest.mark.parametrize("name", [
    "corpus/001-cadvisor-system-oom.log", "corpus/003-blog-java-vim-rhel6.log",
    "corpus/006-forum-mysqld-ubuntu1204.log", "corpus/012-blog-docker-arm64-5.15-memcg.log",
    "corpus/020-oomanalyser-arch-6.1-doxygen.log", "corpus/035-askubuntu-oomlog-condensed-4.x.log",
    "corpus/6.18-memcg-v1-smoke.log", "synthetic/s02-5.10-memcg-v2-journal.log",
    "synthetic/s03-oom-group-multikill.log", "synthetic/s01-4.19-global-tasks-state.log",
])
def test_reversed_input_gives_the_same_event(name: str) -> None:
    text = _read(os.path.join(DATA, name))
    [fwd] = parse_text(text)
    [rev] = parse_text(_reverse_records(text))
    assert _digest(rev) == _digest(fwd)
    assert "reversed" in rev.format_hints and "reversed" not in fwd.format_hints
    n = text.count("\n")
    assert (rev.start_line, rev.end_line) == (n + 1 - fwd.end_line, n + 1 - fwd.start_line)


def test_reversed_burst_of_several_reports() -> None:
    text = _read(os.path.join(SYNTH, "s12-ratelimited-burst.log"))
    fwd = parse_text(text)
    rev = parse_text(_reverse_records(text))
    assert sorted(e.victim_pid for e in rev) == sorted(e.victim_pid for e in fwd)
    assert {e.victim_pid: _digest(e) for e in rev}[7001] == _digest(fwd[0])


# --------------------------------------------------------------------------------------------
# several hosts in one file

def test_two_hosts_interleaved_line_by_line() -> None:
    a = _read(os.path.join(CORPUS, "001-cadvisor-system-oom.log")).replace(" localhost ", " hostA ")
    b = _read(os.path.join(CORPUS, "018-notes-rhel6-slab-leak-haproxy.log"))
    la, lb = a.splitlines(), b.splitlines()
    mixed = []
    for i in range(max(len(la), len(lb))):
        mixed += la[i:i + 1] + lb[i:i + 1]
    events = parse_text("\n".join(mixed) + "\n")
    by_host = {e.host: e for e in events}
    assert len(events) == 2 and set(by_host) == {"hostA", "dr-2"}
    assert _digest(by_host["hostA"]) == _digest(parse_text(a)[0])
    assert _digest(by_host["dr-2"]) == _digest(parse_text(b)[0])


def test_two_hosts_whose_reports_alternate_in_blocks() -> None:
    a = _read(os.path.join(CORPUS, "003-blog-java-vim-rhel6.log"))
    b = _read(os.path.join(CORPUS, "037-blog-mesos-docker-memcg-score1001.log"))
    la, lb = a.splitlines(), b.splitlines()
    mixed = la[:40] + lb[:10] + la[40:] + lb[10:]
    events = parse_text("\n".join(mixed) + "\n")
    assert sorted((e.host, e.victim_pid) for e in events) == [("localhost", 31995),
                                                             ("test-a3-60-17", 76513)]


# --------------------------------------------------------------------------------------------
# prefix styles over a whole (bare) report

STYLES = {
    "dmesg": lambda i, l: f"[{100 + i / 1000:12.6f}] {l}",
    "dmesg-T": lambda i, l: f"[Mon Oct  4 10:11:{i % 60:02d} 2021] {l}",
    "dmesg-x": lambda i, l: f"kern  :warn  : [{100 + i / 1000:12.6f}] {l}",
    "dmesg-r": lambda i, l: f"<4>[{100 + i / 1000:12.6f}] {l}",
    "caller": lambda i, l: f"[{100 + i / 1000:12.6f}][  T735] {l}",
    "kmsg": lambda i, l: f"4,{i},{100000000 + i},-;{l}",
    "syslog": lambda i, l: f"Oct  4 10:11:{i % 60:02d} vm1 kernel: [{100 + i / 1000:12.6f}] {l}",
    "syslog-nohost": lambda i, l: f"Oct  4 10:11:{i % 60:02d} kernel: {l}",
    "rsyslog-iso": lambda i, l: f"2021-10-04T10:11:{i % 60:02d}.{i:06d}+02:00 vm1 kernel: {l}",
    "journal-precise": lambda i, l: f"Oct 04 10:11:{i % 60:02d}.{i:06d} vm1 kernel: {l}",
    "journal-full": lambda i, l: f"Mon 2021-10-04 10:11:{i % 60:02d} CEST vm1 kernel: {l}",
    "journal-unix": lambda i, l: f"1633335071.{i:06d} vm1 kernel: {l}",
    "journal-mono": lambda i, l: f"[{100 + i / 1000:12.6f}] vm1 kernel: {l}",
    "rfc5424": lambda i, l: f"<4>1 2021-10-04T10:11:{i % 60:02d}Z vm1 kernel - - - {l}",
    "markdown": lambda i, l: f"> [{100 + i / 1000:12.6f}] {l}",
    "indented": lambda i, l: f"    {l}",
    "pipe": lambda i, l: f"| {l}",
    "crlf-colour": lambda i, l: f"\x1b[0;33m[{100 + i / 1000:12.6f}] {l}\x1b[0m\r",
}


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize("name", ["023-oomanalyser-ubuntu2110-sysrq.log",
                                  "022-oomanalyser-rhel7-numa-mysqld.log",
                                  "040-kernel-commit-cpuset-movable-runc.log"])
def test_every_prefix_style_gives_the_same_event(style: str, name: str) -> None:
    text = _read(os.path.join(CORPUS, name))
    [ref] = parse_text(text)
    lines = [STYLES[style](i, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    [ev] = parse_text("\n".join(lines) + "\n")
    assert _digest(ev) == _digest(ref)


# --------------------------------------------------------------------------------------------
# oom_reaper lines arrive later (or, reversed, earlier)

NOISE = "[ 9.000000] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex\n"


def test_late_reaper_line_is_attached_to_its_report() -> None:
    text = _read(os.path.join(CORPUS, "010-notes-qemu-6.11-stress-ng.log"))
    late = ("[   32.900000] oom_reaper: reaped process 116 (stress-ng-vm), now anon-rss:0kB, "
            "file-rss:0kB, shmem-rss:0kB\n")
    events = parse_text(text + NOISE * 3000 + late + NOISE * 10)
    assert len(events) == 1 and [r.pid for r in events[0].reaped] == [116]
    assert events[0].end_line == text.count("\n") + 3001


def test_isolated_reaper_line_is_an_event_with_the_prefilter_too() -> None:
    """``oom_reaper: `` is an anchor: a reaper line pasted alone (issue 8) is a reaper-only event
    naming the victim, found by the prefilter exactly as by looking at every line."""
    data = [(NOISE * 100 + "[ 9.1] oom_reaper: unable to reap pid:4242 (java)\n").encode()]
    [ev] = iter_events(data, "x", scan_all=True)
    assert [e.to_dict() for e in iter_events(data, "x")] == [ev.to_dict()]
    assert "reaper-only" in ev.format_hints and ev.victim_pid == 4242 and ev.victim_name == "java"
    assert ev.reaped[0].pid == 4242 and not ev.reaped[0].reaped


def test_reaper_line_just_before_a_report_is_kept() -> None:
    text = _read(os.path.join(CORPUS, "023-oomanalyser-ubuntu2110-sysrq.log"))
    early = ("oom_reaper: reaped process 999 (old), now anon-rss:0kB, file-rss:0kB, "
             "shmem-rss:0kB\n")
    events = sorted(parse_text(early + NOISE * 30 + text), key=lambda e: e.start_line)
    assert [e.victim_pid for e in events] == [999, 651]   # the reaper names its victim
    assert "reaper-only" in events[0].format_hints and events[0].reaped[0].pid == 999


def test_next_report_before_the_reaper_line_of_the_previous_one() -> None:
    a = _read(os.path.join(CORPUS, "010-notes-qemu-6.11-stress-ng.log"))
    b = _read(os.path.join(CORPUS, "023-oomanalyser-ubuntu2110-sysrq.log"))
    late = ("[   32.900000] oom_reaper: reaped process 116 (stress-ng-vm), now anon-rss:0kB, "
            "file-rss:0kB, shmem-rss:0kB\n")
    events = parse_text(a + NOISE * 40 + b + late)
    assert [e.victim_pid for e in events] == [116, 651]
    assert [r.pid for r in events[0].reaped] == [116] and events[1].reaped == ()


# --------------------------------------------------------------------------------------------
# streaming

def test_events_are_yielded_before_the_input_ends() -> None:
    report = _read(os.path.join(CORPUS, "010-notes-qemu-6.11-stress-ng.log")).encode()
    consumed = []

    def chunks():
        for i in range(50):
            consumed.append(i)
            yield report if i == 0 else NOISE.encode() * 20_000

    it = iter_events(chunks(), "gen")
    first = next(it)
    assert first.victim_pid == 116 and len(consumed) < 50
    assert list(it) == []


@pytest.mark.parametrize("size", [1, 2, 7, 64, 4093, 65536])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    data = b"".join(_read(os.path.join(SYNTH, n)).encode() for n in sorted(os.listdir(SYNTH))
                    if n.endswith(".log"))
    ref = [e.to_dict() for e in iter_events([data], "x")]
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert [e.to_dict() for e in iter_events(chunks, "x")] == ref
    assert len(ref) >= 20


@pytest.mark.parametrize("data", [b"", b"\n", b"\n\n\n", b"no newline at end", b"\x00\xff\xfe" * 100,
                                  "ünïcødé\n".encode("utf-16")])
def test_degenerate_input(data: bytes) -> None:
    assert list(iter_events([data], "x")) == []


def test_str_lines_with_and_without_newlines_and_mixed_with_bytes() -> None:
    text = _read(os.path.join(CORPUS, "008-readme-cgroup-stress-memcg.log"))
    lines = text.splitlines()
    a = [e.to_dict() for e in iter_events(lines, "x")]
    b = [e.to_dict() for e in iter_events([l + "\n" for l in lines[:5]] + [("\n".join(lines[5:]) +
                                                                            "\n").encode()], "x")]
    assert a == b and len(a) == 1


def test_lone_surrogates_in_str_input_do_not_break() -> None:
    [ev] = iter_events(["Out of memory: Killed process 1 (\udcff)"], "x")
    assert ev.victim_pid == 1


def test_normalizer_state_does_not_leak_between_regions() -> None:
    # a bare "(x)." far after a wrapped kill line is not joined to it
    text = "Mar 11 18:24:30 monster kernel: Out of Memory: Killed process 11300\n" + \
           "Mar 11 18:24:31 monster kernel: usb 1-1: reset\n" * 40 + "(run-parts).\n"
    assert parse_text(text) == [] or all(e.victim_name != "run-parts" for e in parse_text(text))
    n = Normalizer()
    n.normalize("Mar 11 18:24:30 monster kernel: x")
    assert n.normalize("(y).")[0].continuation


def test_memcg_subtree_stats_keep_the_oom_memcg_only() -> None:
    text = "\n".join([
        "[1.0] x invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0",
        "[1.0] Task in /a/b killed as a result of limit of /a",
        "[1.0] memory: usage 10kB, limit 10kB, failcnt 1",
        "[1.0] Memory cgroup stats for /a: cache:0KB rss:10KB",
        "[1.0] Memory cgroup stats for /a/b: cache:0KB rss:8KB",
        "[1.0] [ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
        "[1.0] [  5]     0     5      100        2       1        0             0 x",
        "[1.0] Memory cgroup out of memory: Kill process 5 (x) score 800 or sacrifice child",
        "[1.0] Killed process 5 (x) total-vm:400kB, anon-rss:8kB, file-rss:0kB", ""])
    [ev] = parse_text(text)
    assert (ev.task_memcg, ev.oom_memcg, ev.memcg.stats_path) == ("/a/b", "/a", "/a")
    assert ev.memcg.stats == (("cache", 0), ("rss", 10)) and ev.memcg.stats_unit == "KB"
    assert any("sub-cgroup /a/b" in n for n in ev.notes)
