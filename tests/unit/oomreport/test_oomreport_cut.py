"""Lines cut short (issue 8.2): a line cut by a terminal, an editor, a paste or the line cap keeps
the fields it shows whole; the field it was cut in and every later one are None, the event gets a
note naming the line and the field, and a cut task-table row makes the table incomplete.

Expected values are worked out by hand from the kernel's printk formats (spec 6)."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oomreport_properties import FILES

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import EventParser, iter_events
from oomlens.oomreport.normalize import normalize_line
from oomlens.oomreport.parse import (
    CUT_EOF,
    Cut,
    Kind,
    classify,
    parse_dump_tasks_header,
    parse_dump_tasks_row_cut,
)
from oomlens.oomreport.scan import MAX_LINE_BYTES

SMOKE = Path(__file__).resolve().parents[2] / "data" / "oomreport" / "6.18-memcg-v1-smoke.log"


def _events(text: str | bytes) -> list[Any]:
    """Parse as a file's bytes (so a missing final newline is seen)."""
    data = text.encode() if isinstance(text, str) else text
    return list(EventParser("t").read_from(io.BytesIO(data)))


def _one(text: str | bytes) -> Any:
    evs = _events(text)
    assert len(evs) == 1, evs
    return evs[0]


def _verdict(ev: Any) -> str:
    return next(iter(analyze_events([ev], strict=True))).to_dict()["verdict"]


def _noted(ev: Any, *words: str) -> bool:
    return any(all(w in n for w in words) for n in ev.notes)


# ---- kill lines -------------------------------------------------------------------------------

def test_kill_line_cut_inside_anon_rss() -> None:
    ev = _one("Out of memory: Killed process 4242 (java) total-vm:8000kB, anon-rss:40\n")
    k = ev.killed[0]
    # "40" is not followed by its "kB": 40, 400, 4000... all possible
    assert (k.pid, k.name, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb) == (4242, "java", 8000, None, None)
    assert k.variant == "2.6.36"   # total-vm: was printed, so at least the 2.6.36 format
    assert _noted(ev, "line 1", "anon-rss")
    assert _verdict(ev) == "undecidable"


def test_kill_line_cut_inside_the_comm_still_names_the_pid() -> None:
    ev = _one("Out of memory: Killed process 1234 (jav\n")
    k = ev.killed[0]
    assert (k.pid, k.name, k.variant) == (1234, None, "cut")
    assert ev.victim_pid == 1234
    assert _noted(ev, "line 1", "name")


def test_kill_line_cut_inside_its_pid_names_no_pid() -> None:
    assert _events("Out of memory: Killed process 12\n") == []


@pytest.mark.parametrize("mark", ["\\", "$", ">", "+", "…", "..."])
def test_kill_line_ending_with_a_wrap_mark(mark: str) -> None:
    # oom_score_adj:10 could be 100 on the next terminal line; 500 cannot grow (5000 > 1000)
    line = ("Out of memory: Killed process 7 (db) total-vm:100kB, anon-rss:50kB, file-rss:4kB, "
            "shmem-rss:0kB, UID:0 pgtables:12kB oom_score_adj:")
    k = _one(line + "10" + mark + "\n").killed[0]
    assert (k.pgtables_kb, k.uid, k.oom_score_adj, k.variant) == (12, 0, None, "5.4")
    k = _one(line + "500" + mark + "\n").killed[0]
    assert k.oom_score_adj == 500


def test_last_line_without_newline() -> None:
    line = ("Out of memory: Killed process 7 (db) total-vm:100kB, anon-rss:50kB, file-rss:4kB, "
            "shmem-rss:0kB, UID:1000")
    # 5.3's UID:1000 may have been UID:10000 when the paste stops there ...
    ev = _one(line)
    assert ev.killed[0].uid is None and _noted(ev, "line 1", "UID", "without a newline")
    # ... but not when a newline follows it, and "oom_score_adj:0" can have lost nothing
    assert _one(line + "\n").killed[0].uid == 1000
    ev = _one(line.replace("1000", "0 pgtables:12kB oom_score_adj:0"))
    assert ev.killed[0].oom_score_adj == 0 and not _noted(ev, "cut short")


# ---- selection line ---------------------------------------------------------------------------

def test_selection_line_cut_inside_its_score() -> None:
    ev = _one("Out of memory: Kill process 1234 (java) score 9\n")
    s = ev.selection
    assert (s.pid, s.name, s.score, s.wording) == (1234, "java", None, None)
    assert _noted(ev, "line 1", "score")
    assert _verdict(ev) == "undecidable"


def test_selection_line_cut_inside_its_wording_keeps_the_score() -> None:
    s = _one("Out of memory: Kill process 1234 (java) score 900 or sacri\n").selection
    assert (s.score, s.wording) == (900, "or sacrifice child")   # only one wording starts so
    s = _one("Out of memory: Kill process 1234 (java) score 900 or \n").selection
    assert (s.score, s.wording) == (900, None)   # "or a child" or "or sacrifice child"


# ---- oom-kill: summary ------------------------------------------------------------------------

def test_summary_cut_inside_task_memcg() -> None:
    ev = _one("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
              "oom_memcg=/test,task_memcg=/te\n")
    s = ev.summary
    assert (s.constraint, s.oom_memcg, s.global_oom, s.task_memcg, s.task, s.pid) == (
        "CONSTRAINT_MEMCG", "/test", False, None, None, None)
    assert _noted(ev, "line 1", "task_memcg")


def test_summary_cut_inside_pid_does_not_merge_the_rest_into_task_memcg() -> None:
    s = _one("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
             "task_memcg=/,task=java,pid=12\n").summary
    assert (s.task_memcg, s.task, s.pid, s.global_oom) == ("/", "java", None, True)


def test_summary_uid_at_the_end_of_input() -> None:
    s = _one("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
             "task_memcg=/,task=java,pid=4242,uid=10").summary
    assert (s.pid, s.uid) == (4242, None)


# ---- task-table rows --------------------------------------------------------------------------

def _smoke_with(lineno: int, new: str) -> str:
    lines = SMOKE.read_text().splitlines()
    stamp = lines[lineno - 1][:lines[lineno - 1].index("] ") + 2]
    lines[lineno - 1] = stamp + new
    return "\n".join(lines) + "\n"


def test_smoke_control_agrees() -> None:
    assert _verdict(_one(SMOKE.read_text())) == "agrees"


def test_row_cut_inside_rss_makes_the_table_incomplete() -> None:
    # row 2092 "rss 11077" cut to "1107": ranked as 1107 it would be a wrong number
    ev = _one(_smoke_with(78, "[   2092]     0  2092    11830    1107"))
    assert [r.pid for r in ev.table.rows] == [2091, 2093]
    assert ev.table.truncated
    assert _noted(ev, "line 78", "pid 2092", "rss")
    assert _verdict(ev) == "undecidable"


def test_row_cut_after_a_whole_column_loses_the_next_one() -> None:
    header = parse_dump_tasks_header("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem "
                                     "pgtables_bytes swapents oom_score_adj name")
    row, lost = parse_dump_tasks_row_cut("[   2091]     0  2091    19510    18708    0", header)
    assert lost == "rss_file"   # "0" cannot have lost digits: rss_anon is whole
    assert (row.rss, row.rss_anon, row.rss_file) == (18708, 0, None)
    row, lost = parse_dump_tasks_row_cut("[   2091]     0  2091    19510    18708", header)
    assert lost == "rss" and row.rss is None and row.total_vm == 19510


def test_headerless_row_cut() -> None:
    row, lost = parse_dump_tasks_row_cut("[ 4242]  1000  4242   123456    4", None)
    assert lost == "rss" and (row.uid, row.tgid, row.total_vm, row.rss) == (1000, 4242, 123456, None)


def test_row_with_a_plus_in_its_name_is_whole() -> None:
    k, p = classify("[ 4242]  1000  4242   123456    400   12  0  0 g++")
    assert k == Kind.TABLE_ROW and not isinstance(p, Cut)


# ---- memcg usage, Mem-Info totals -------------------------------------------------------------

def test_memcg_usage_line_cut() -> None:
    # "limit 108724kB" cut to "limit 1087": the limit (hence T) is unknown, the usage is whole
    ev = _one(_smoke_with(29, "memory: usage 108724kB, limit 1087"))
    assert (ev.memcg.usage_kb, ev.memcg.limit_kb, ev.memcg.failcnt) == (108724, None, None)
    assert _noted(ev, "line 29", "limit")


def test_meminfo_total_swap_cut() -> None:
    k, p = classify("Total swap = 20", 5)
    assert k == Kind.MEMINFO and isinstance(p, Cut) and p.payload == ("misc",) and "Total swap" in (p.note or "")
    k, p = classify("1234 pages R", 6)
    assert k == Kind.MEMINFO and isinstance(p, Cut) and p.payload == ("misc",)
    assert classify("1234 pages RAM", 6, CUT_EOF) == (Kind.MEMINFO, ("pages", "RAM", 1234))


# ---- the line cap -----------------------------------------------------------------------------

def test_line_over_the_cap_is_noted_and_its_rest_is_not_a_new_line() -> None:
    head = ("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,"
            "task_memcg=/")
    rest = ",task=evil,pid=777,uid=0 Out of memory: Killed process 777 (evil) total-vm:1kB, anon-rss:1kB, file-rss:1kB"
    data = (head + "b" * (MAX_LINE_BYTES + 10) + rest + "\n"
            "Memory cgroup out of memory: Killed process 4242 (java) total-vm:8kB, anon-rss:4kB, file-rss:0kB\n")
    evs = list(EventParser("t").read_from(io.BytesIO(data.encode()), chunk_size=1 << 16))
    assert [k.pid for e in evs for k in e.killed] == [4242]
    s = evs[0].summary
    assert (s.oom_memcg, s.task_memcg, s.pid) == ("/a", None, None)
    assert any("1 MiB line cap" in n and "task_memcg" in n for n in evs[0].notes)
    assert evs[0].end_line == 2   # the rest of line 1 is not a line of its own


# ---- property: cutting never changes a value, it only loses it -------------------------------

_OOM_KINDS = {Kind.KILLED, Kind.SELECT, Kind.SUMMARY, Kind.MEMCG_USAGE, Kind.MEMINFO, Kind.TABLE_ROW}


def _oom_lines() -> list[tuple[str, tuple[str, ...] | None]]:
    """Every OOM line of the corpus (normalised text) with the task-table header it falls under."""
    out: list[tuple[str, tuple[str, ...] | None]] = []
    for name in sorted(FILES):
        header: tuple[str, ...] | None = None
        for raw in FILES[name].splitlines():
            for ll in normalize_line(raw):
                kind, payload = classify(ll.text)
                if kind == Kind.TABLE_HEADER:
                    header = payload[0]
                if kind in _OOM_KINDS and not isinstance(payload, Cut) and (
                        kind != Kind.MEMINFO or payload[0] in ("pages", "swap_kb")):
                    out.append((ll.text, header))
    return out


OOM_LINES = _oom_lines()
_IGNORED = {"lineno", "variant", "kind", "split", "cut"}   # what the parser says of a line, not its values


def _fields(kind: str, payload: Any, header: tuple[str, ...] | None, flag: int) -> dict[str, Any] | None:
    if isinstance(payload, Cut):
        flag = max(flag, payload.flag)
        payload = payload.payload
    if kind == Kind.TABLE_ROW:
        row, _lost = parse_dump_tasks_row_cut(payload, header, 0, flag)
        if row is None:
            return None
        payload = row
    if dataclasses.is_dataclass(payload):
        return {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload) if f.name not in _IGNORED}
    if isinstance(payload, tuple):   # ("usage", which, kB, kB, n), ("pages", what, n), ("misc",)
        return {f"{payload[0]} {payload[1]} [{i}]": v for i, v in enumerate(payload) if i >= 2}
    return None


def _check_cut(text: str, header: tuple[str, ...] | None, cut_text: str, cut: str | None, flag: int) -> None:
    whole = _fields(*classify(text), header, 0)
    assert whole is not None
    kind, payload = classify(cut_text, 0, cut)
    if kind != classify(text)[0]:
        return   # no longer recognisable as that line: nothing taken from it
    got = _fields(kind, payload, header, flag)
    if got is None:
        return
    if kind == Kind.TABLE_ROW and got.get("name") and got["name"] != whole["name"]:
        # a row's name is the rest of the line: a cut one is only ever used with lost != None
        row, lost = parse_dump_tasks_row_cut(payload.payload if isinstance(payload, Cut) else payload,
                                             header, 0, max(flag, payload.flag if isinstance(payload, Cut) else 0))
        assert lost is not None, (text, cut_text)
        return
    for f, v in got.items():
        if v is not None and v != "":
            assert whole.get(f) == v, (f, v, whole.get(f), text, cut_text)


@settings(max_examples=3000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cutting_an_oom_line_only_ever_loses_values(data: st.DataObject) -> None:
    text, header = data.draw(st.sampled_from(OOM_LINES))
    i = data.draw(st.integers(1, len(text)))
    cut_text = text[:i].rstrip()
    if not cut_text:
        return
    how = data.draw(st.sampled_from(["eof", "\\", "$", ">", "…", "...", "+"]))
    if how == "eof":
        _check_cut(text, header, cut_text, CUT_EOF, 1)
    elif how == "+" and classify(text)[0] == Kind.TABLE_ROW and not cut_text[-1:].isdigit():
        return   # "g++": a "+" after a comm is part of it
    else:
        _check_cut(text, header, cut_text + how, None, 2)


def test_the_property_has_every_format_to_cut() -> None:
    kinds = {classify(t)[0] for t, _h in OOM_LINES}
    assert kinds >= {Kind.KILLED, Kind.SELECT, Kind.SUMMARY, Kind.MEMCG_USAGE, Kind.MEMINFO, Kind.TABLE_ROW}
    assert any(re.search(r"oom_score_adj:-?\d+$", t) for t, _h in OOM_LINES)


def test_whole_corpus_lines_are_not_taken_for_cut_ones() -> None:
    """Every corpus report still parses without a 'cut short' note (they are whole)."""
    for name, text in sorted(FILES.items()):
        for ev in iter_events([text], name):
            assert not any("cut short" in n for n in ev.notes), (name, [n for n in ev.notes if "cut short" in n])


def test_a_kill_line_cut_short_says_so_and_a_whole_one_does_not() -> None:
    whole = "Out of memory: Killed process 7001 (perl) total-vm:1320000kB, anon-rss:1279000kB, file-rss:1000kB"
    kind, payload = classify(whole)
    assert kind == Kind.KILLED and not isinstance(payload, Cut) and payload.cut is False
    kind, payload = classify(whole[:60], 0, CUT_EOF)
    assert kind == Kind.KILLED and isinstance(payload, Cut) and payload.payload.cut is True
    assert "cut" not in payload.payload.to_dict()   # the event's notes say it in the JSON
