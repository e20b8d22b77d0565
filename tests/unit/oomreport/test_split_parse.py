"""A large log parsed by two processes (sources.kernellog.iter_file_events splits it at split_point) gives the
same events, in the same order, with the same line numbers and notes, as one parser over the whole file; when
the first part does not end at rest, or the helper fails, the file is parsed in one go and nothing is lost or
doubled."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import oomlens.sources.kernellog as kl
from oomlens.oomreport.scan import EventParser

CORPUS = Path(__file__).parents[2] / "data" / "oomreport" / "corpus"
REAL = Path(__file__).parents[2] / "data" / "oomreport" / "realworld"

NOISE = [
    "Dec  6 10:00:{s:02d} web-01 kernel: [{t:12.6f}] usb 1-1: new high-speed USB device number {n} using xhci_hcd",
    "Dec  6 10:00:{s:02d} web-01 CRON[{n}]: (root) CMD (run-parts /etc/cron.hourly)",
    "Dec  6 10:00:{s:02d} web-01 kernel: [{t:12.6f}] EXT4-fs (sda1): mounted filesystem with ordered data mode",
    "Dec  6 10:00:{s:02d} web-01 app[{n}]: the worker process {n} restarted (not an OOM: a userspace line)",
]


def _log(tmp_path: Path, every_kib: int, seed: int) -> Path:
    """~3 MiB of noise with every corpus and real-world report embedded every ``every_kib`` KiB."""
    rnd = random.Random(seed)
    reports = [p.read_text() for p in sorted(CORPUS.glob("*.log")) + sorted(REAL.glob("*.log"))]
    out: list[str] = []
    size = 0
    t = 100.0
    next_report = every_kib << 10
    while size < 3 << 20:
        if size >= next_report:
            rep = rnd.choice(reports)
            out.append(rep if rep.endswith("\n") else rep + "\n")
            size += len(rep) + 1
            next_report += (every_kib << 10) + rnd.randrange(1 << 14)
            continue
        t += 0.01
        line = rnd.choice(NOISE).format(s=int(t) % 60, t=t, n=rnd.randrange(1, 99999)) + "\n"
        out.append(line)
        size += len(line)
    path = tmp_path / f"big-{every_kib}-{seed}.log"
    path.write_text("".join(out))
    return path


def _one_parser(path: Path) -> list:  # type: ignore[type-arg]
    with kl.open_binary(str(path)) as f:
        return list(kl.iter_events(f, str(path)))


@pytest.fixture
def splittable(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(kl, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(kl, "can_fork_a_helper", lambda: True)


@pytest.mark.parametrize("every_kib,seed", [(600, 1), (700, 2), (900, 3)])
def test_split_parse_equals_one_parser(tmp_path, splittable, monkeypatch, every_kib, seed) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, every_kib, seed)
    expected = _one_parser(path)
    assert len(expected) > 3
    at = kl.split_point(str(path))
    assert at is not None

    def no_fallback(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("parsed in one go: the split was not used")

    monkeypatch.setattr(kl, "open_binary", no_fallback)
    got = list(kl.iter_file_events(str(path)))
    assert got == expected  # one host's or well-spaced reports: even the order across hosts is one parser's
    # the helper's part starts mid-file: its events carry the file's own line numbers
    assert any(e.start_line > expected[0].end_line for e in got)


def test_every_split_point_found_gives_the_same_events(tmp_path, splittable) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, 650, 7)
    expected = _one_parser(path)
    data = path.read_bytes()
    w = kl.REAPER_WINDOW
    tried = 0
    for c in range(w, len(data) - w, 96 << 10):
        win = data[c - w:c + w]
        if kl.REAPER_ANCHOR in win:
            continue
        at = kl._quiet_line_start(win, w)
        if at is None:
            continue
        tried += 1
        assert list(kl._iter_split(str(path), c - w + at)) == expected, c
    assert tried >= 5


def test_first_part_not_at_rest_falls_back_without_doubles(tmp_path, splittable, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, 600, 4)
    expected = _one_parser(path)
    monkeypatch.setattr(EventParser, "at_rest", lambda self, ahead=b"": None)
    assert list(kl.iter_file_events(str(path))) == expected


def test_a_failing_helper_falls_back(tmp_path, splittable, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, 600, 5)
    expected = _one_parser(path)
    real = kl._line_ends

    def boom(*a):  # type: ignore[no-untyped-def]
        raise RuntimeError("the helper fails")  # only the helper counts line ends

    monkeypatch.setattr(kl, "_line_ends", boom)
    assert list(kl.iter_file_events(str(path))) == expected
    monkeypatch.setattr(kl, "_line_ends", real)
    monkeypatch.setattr(kl, "fork_helper", lambda work: None)  # no helper at all
    assert list(kl.iter_file_events(str(path))) == expected


def test_line_ends_count_as_the_parser_counts(tmp_path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"a\nb\r\nc\rd\n\r\ne")
    import os

    fd = os.open(p, os.O_RDONLY)
    try:
        # a, b (CRLF once), c (lone CR), d, an empty line (CRLF): 5 line ends
        assert kl._line_ends(fd, str(p), p.stat().st_size) == 5
    finally:
        os.close(fd)


def test_small_compressed_or_stdin_inputs_are_not_split(tmp_path) -> None:
    path = tmp_path / "small.log"
    path.write_text("x\n" * 10)
    assert kl.split_point(str(path)) is None  # below SPLIT_MIN_BYTES
    assert kl.split_point("-") is None


# --- several hosts, reports near the split point (after a review's reproductions) ---------------------------

_REPORT = (CORPUS / "020-oomanalyser-arch-6.1-doxygen.log").read_text().splitlines()


def _report(host: str, t: float, pid: int, reaper: bool = False) -> list[str]:
    return [f"Dec  6 10:00:00 {host} kernel: [{t:12.6f}] {ln.replace('473206', str(pid))}"
            for ln in _REPORT if reaper or not ln.startswith("oom_reaper")]


def _noise(n: int) -> list[str]:
    return [f"Dec  6 10:00:00 web-01 kernel: [    1.000000] usb 1-1: new device number {i}" for i in range(n)]


def _per_host(evs: list) -> dict:  # type: ignore[type-arg]
    out: dict = {}  # type: ignore[type-arg]
    for e in evs:
        out.setdefault(e.host, []).append(e)
    return out


@pytest.mark.parametrize("gap_after", [2500, 9000])
def test_hosts_interleaved_near_the_split(tmp_path, splittable, gap_after) -> None:  # type: ignore[no-untyped-def]
    """hostB's report is over a reaper grace before the split point, hostA's is not, hostC's comes after it: the
    first part is not at rest when hostC's is near (2,500 lines), so its parser reads on. Nothing is doubled or
    lost (a re-parse that skipped the events already yielded did both), each host's events in one parser's
    order."""
    head = _report("hostA", 5.0, 100, reaper=True) + _noise(3000) + _report("hostB", 50.0, 200) + _noise(3000) \
        + _report("hostA", 51.0, 300)
    lines = head + _noise(2000)
    split_line = len(lines)  # 2,000 quiet lines after hostA's second report (within its reaper grace), 5,000+ after hostB's
    lines += _noise(gap_after) + _report("hostC", 60.0, 500) + _noise(3000)
    path = tmp_path / "hosts.log"
    path.write_text("\n".join(lines) + "\n")
    split = len(("\n".join(lines[:split_line]) + "\n").encode())
    expected = _one_parser(path)
    got = list(kl._iter_split(str(path), split))
    assert len(got) == len(expected) == 4
    assert sorted((e.host, e.start_line) for e in got) == sorted((e.host, e.start_line) for e in expected)
    assert _per_host(got) == _per_host(expected)


def test_line_ends_with_a_crlf_across_reads(tmp_path) -> None:
    import os

    p = tmp_path / "x"
    chunk = 8 << 20
    p.write_bytes(b"a" * (chunk - 1) + b"\r" + b"\nb\n" + b"c\n" * 10)  # the CR ends the first 8 MiB read
    fd = os.open(p, os.O_RDONLY)
    try:
        assert kl._line_ends(fd, str(p), p.stat().st_size) == 12  # the CRLF once, then b and ten c
    finally:
        os.close(fd)
