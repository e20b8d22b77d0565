"""Property tests: the parser never raises, finds a report wherever it is embedded, and the fast
prefilter finds exactly what looking at every line finds."""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oomreport_expect import DATA

from oomlens.oomreport import OomEvent, iter_events
from oomlens.oomreport.normalize import _normalize_fast, _normalize_general

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _load(sub: str) -> dict[str, str]:
    d = os.path.join(DATA, sub)
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                out[f"{sub}/{name}"] = f.read()
    return out


FILES = {**_load("corpus"), **_load("synthetic")}
# single-report files whose lines do not depend on being adjacent (031 joins wrapped lines)
SINGLE = sorted(n for n, t in FILES.items()
                if len(list(iter_events([t], n))) == 1 and "031-" not in n)

NOISE = [
    "usb 1-1: new high-speed USB device number 3 using xhci_hcd",
    "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.5 DST=198.51.100.7 LEN=40",
    'audit: type=1400 audit(1616840000.123:456): apparmor="DENIED" operation="open"',
    "EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null)",
    "IPv4: martian source 10.0.0.255 from 10.0.0.7, on dev eth0",
    "perf: interrupt took too long (2500 > 2495), lowering kernel.perf_event_max_sample_rate",
    "nf_conntrack: nf_conntrack: table full, dropping packet",
    "docker0: port 1(veth1a2b3c) entered forwarding state",
    "zoom room bloom: nothing to see",
    "kauditd_printk_skb: 3 callbacks suppressed",
]


def _digest(ev: OomEvent) -> tuple:
    t = ev.table
    return (ev.victim_pid, ev.victim_name, ev.kernel_release, ev.domain, ev.constraint,
            ev.oom_memcg, ev.selection and ev.selection.score,
            ev.invoked and (ev.invoked.comm, ev.invoked.pid),
            ev.meminfo and (ev.meminfo.pages_ram, ev.meminfo.pages_reserved, ev.meminfo.total_swap_kb),
            ev.memcg and (ev.memcg.limit_kb, ev.memcg.swap_limit_kb, len(ev.memcg.stats)),
            t and (t.variant, tuple((r.pid, r.rss, r.swapents, r.oom_score_adj, r.name) for r in t.rows)),
            tuple(k.pid for k in ev.killed), tuple(r.pid for r in ev.reaped),
            tuple(r.pid for r in ev.other_reaped), ev.sysrq, ev.no_killable, ev.panic)


def _parse(text: str, **kw) -> list[OomEvent]:
    return list(iter_events([text.encode("utf-8", "surrogateescape")], "p", **kw))


@SETTINGS
@given(st.binary(max_size=3000))
def test_garbage_bytes_never_raise(data: bytes) -> None:
    assert list(iter_events([data], "g")) == list(iter_events([data], "g", scan_all=True))


@SETTINGS
@given(st.sampled_from(sorted(FILES)), st.data())
def test_random_truncation_never_raises_and_invents_nothing(name: str, data) -> None:
    text = FILES[name]
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    piece = text[a:b]
    for ev in _parse(piece) + _parse(piece, scan_all=True):
        assert ev.victim_pid is None or str(ev.victim_pid) in piece
        assert 1 <= ev.start_line <= ev.end_line <= piece.count("\n") + 1
        ev.to_dict()


@SETTINGS
@given(st.sampled_from(sorted(FILES)), st.data())
def test_random_garbage_lines_never_raise(name: str, data) -> None:
    lines = FILES[name].splitlines()
    junk = st.text(alphabet=string.printable + "äü\x00\x7f[]<>#;:", max_size=80)
    for _ in range(data.draw(st.integers(0, 10))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(junk))
    text = "\n".join(lines)
    for ev in _parse(text):
        ev.to_dict()


def _noise_block(draw, n: int, style) -> list[str]:
    return [style(draw(st.sampled_from(NOISE))) for _ in range(n)]


@SETTINGS
@given(st.sampled_from(SINGLE), st.data())
def test_report_embedded_anywhere_in_noise_is_found_unchanged(name: str, data) -> None:
    text = FILES[name]
    [ref] = _parse(text)
    prefixed = ref.host is not None or "syslog" in ref.format_hints
    style = (lambda m: f"Mar  2 09:00:00 {ref.host or 'noise'} kernel: {m}") if prefixed else \
        (lambda m: f"[    1.000000] {m}")
    before = _noise_block(data.draw, data.draw(st.integers(0, 3000)), style)
    after = _noise_block(data.draw, data.draw(st.integers(0, 300)), style)
    lines = text.splitlines()
    inside = []
    for line in lines:
        inside.append(line)
        if data.draw(st.integers(0, 9)) == 0:   # short bursts of unrelated lines inside
            inside += _noise_block(data.draw, data.draw(st.integers(1, 8)), style)
    mixed = "\n".join(before + inside + after) + "\n"
    events = _parse(mixed)
    assert len(events) == 1
    assert _digest(events[0]) == _digest(ref)
    assert [e.to_dict() for e in events] == [e.to_dict() for e in _parse(mixed, scan_all=True)]


@SETTINGS
@given(st.lists(st.sampled_from(sorted(FILES)), min_size=1, max_size=4), st.data())
def test_prefilter_finds_what_scanning_every_line_finds(names: list[str], data) -> None:
    parts = []
    for n in names:
        parts.append("\n".join(f"[    2.000000] {data.draw(st.sampled_from(NOISE))}"
                               for _ in range(data.draw(st.integers(20, 200)))))
        parts.append(FILES[n])
    text = "\n".join(parts) + "\n"
    fast = [e.to_dict() for e in _parse(text)]
    assert fast == [e.to_dict() for e in _parse(text, scan_all=True)]
    raw = text.encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0] + cuts, cuts + [len(raw)])]
    assert [e.to_dict() for e in iter_events(chunks, "p")] == fast


_MSG = st.one_of(
    st.text(min_size=1, max_size=60),
    st.builds(lambda lead, body: lead + body,
              st.sampled_from(["[", " [", "  [<", "<", "[ ", "[  12", "[T1] ", "<4>", "[ 1.5] ",
                               "[Mon Oct  4 10:11:12 2021] ", "[  pid  ] ", "web1 kernel: ",
                               "kernel[12]: ", "  "]),
              st.text(alphabet=string.printable, max_size=40)),
)
_FAST_SHAPES = st.one_of(
    st.builds(lambda up, msg: f"[{up:12.6f}] {msg}", st.floats(0, 9e6), _MSG),
    st.builds(lambda d, h, up, msg: f"Mar {d:2d} 10:11:12 {h} kernel: [{up:12.6f}] {msg}",
              st.integers(1, 31), st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
              st.floats(0, 9e6), _MSG),
)


@settings(max_examples=300, deadline=None)
@given(_FAST_SHAPES)
def test_normalizer_fast_path_equals_general_path(raw: str) -> None:
    fast = _normalize_fast(raw)
    if fast is not None:
        assert fast == _normalize_general(raw, None)
