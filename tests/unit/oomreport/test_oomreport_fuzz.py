"""Fuzz suite (issue 7 item 8), derandomized: the same examples on every run and in CI.

Seeds: the corpus and synthetic reports of tests/data. Mutations: byte flips, truncation, huge
numbers, CR line ends, NULs, long runs of a line's own pieces. Properties: nothing raises, the
parser's and postmortem's JSON is valid (no NaN/Infinity) with the documented fields, and a
line's parse time grows linearly with its length (two sizes compared, never an absolute time)."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oomreport_hostile import best_time
from test_oomreport_properties import FILES

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import iter_events
from oomlens.oomreport.parse import classify

FUZZ = settings(max_examples=2000, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SEEDS = sorted(FILES)
EVENT_FIELDS = {"source", "host", "start_line", "end_line", "victim_pid", "victim_name", "domain",
                "killed", "table", "notes", "warnings"}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(FILES[draw(st.sampled_from(SEEDS))].encode())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "bignum", "cr", "nul", "run", "dup"]))
        i = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[:i] + data[draw(st.integers(i, min(len(data), i + 400))):]
        elif op == "bignum":
            data[i:i] = b"9" * draw(st.sampled_from([21, 400, 4301]))
        elif op == "cr":
            data = data.replace(b"\n", b"\r")
        elif op == "nul":
            data[i:i] = b"\0" * draw(st.integers(1, 3000))
        elif op == "run":
            piece = bytes(data[i:i + draw(st.integers(1, 12))]) or b" "
            data[i:i] = piece * (3000 // len(piece))
        elif op == "dup":
            j = data.rfind(b"\n", 0, i) + 1
            k = data.find(b"\n", i) + 1 or len(data)
            data[k:k] = data[j:k] * draw(st.integers(1, 3))
    return bytes(data)


@FUZZ
@given(mutated())
def test_fuzzed_logs_never_raise_and_give_valid_json(data: bytes) -> None:
    events = list(iter_events([data], "fuzz"))
    for ev in events:
        d = json.loads(json.dumps(ev.to_dict(), allow_nan=False))   # the oomreport_dump --json line
        assert EVENT_FIELDS <= set(d)
        assert 1 <= d["start_line"] <= d["end_line"]
    for a in analyze_events(iter(events)):                            # the postmortem --json event
        d = json.loads(json.dumps(a.to_dict(), allow_nan=False, default=str))
        assert d["verdict"] in ("agrees", "disagrees", "undecidable")


def _lines() -> list[str]:
    out = {}
    for text in FILES.values():
        for raw in text.splitlines():
            out.setdefault(re.sub(r"\d+", "0", raw)[:40], raw)
    return sorted(out.values())


LINES = _lines()


@settings(max_examples=600, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LINES), st.data())
def test_a_line_with_a_long_run_of_its_own_pieces_parses_in_linear_time(line: str, data) -> None:  # type: ignore[no-untyped-def]
    i = data.draw(st.integers(0, len(line)))
    piece = data.draw(st.sampled_from([line[i:i + 1] or " ", line[max(0, i - 8):i] or "a",
                                       " ", "\0", ") ", ",cpuset=", "9"]))

    def make(n: int) -> str:
        return line[:i] + piece * (n // len(piece)) + line[i:]

    small, big = make(2000), make(16000)
    t_small = best_time(lambda: list(iter_events([small.encode("utf-8", "surrogateescape")], "l")))
    t_big = best_time(lambda: list(iter_events([big.encode("utf-8", "surrogateescape")], "l")))
    assert t_big <= 24 * max(t_small, 2e-3), (t_small, t_big)
    assert best_time(lambda: classify(big[line.find(' ') + 1:])) < 24 * max(
        best_time(lambda: classify(small[line.find(' ') + 1:])), 2e-3)
