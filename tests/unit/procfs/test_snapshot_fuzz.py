"""Fuzz (issue 7.8, snapshot side): mutated valid snapshots. Nothing but SnapshotError escapes the loader,
and every snapshot it accepts ranks (and its `top --json` document encodes). Hypothesis runs derandomized on
CI (its `ci` profile) like the other property tests."""

from __future__ import annotations

import copy
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_snapshot import _doc

from oomlens.analysis.ranking import rank
from oomlens.errors import SnapshotError
from oomlens.kernel.snapshot import Snapshot

SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INTS = st.one_of(st.integers(-3, 5), st.integers(-2**70, 2**70), st.sampled_from([2**63 - 1, 2**64, -2**63, 4096, 65536]),
                 st.integers(10**400, 10**401))
LEAVES = st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=12), st.sampled_from(["unknown", "6.8.0", "1.2.3", "2.6.32", "/app", ""]))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=6)


def _paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _base() -> dict:
    doc = _doc()
    # a third task and a second cgroup member, so the ranking has a choice to make
    doc["tasks"].append(dict(doc["tasks"][1], pid=9, name="b", rss_anon=50, oom_score_adj=0))
    doc["cgroup_pids"] = [7, 9]
    doc["cgroup"]["oom_kill_disable"] = False  # with it set the kernel kills nobody (no victim to check)
    return doc


BASE = _base()
BASE_PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_docs(draw: st.DrawFn) -> object:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(BASE_PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            op = draw(st.sampled_from(["set", "set", "set", "delete", "duplicate"]))
            if op == "set":
                parent[path[-1]] = draw(VALUES)
            elif op == "delete":
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(parent[path[-1]]))
            else:
                parent[draw(st.text(max_size=4))] = copy.deepcopy(parent[path[-1]])
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced the way there
    return doc


def _check(text: str | bytes) -> None:
    try:
        snap = Snapshot.from_json(text, "fuzz")
    except SnapshotError:
        return
    assert all(math.isfinite(x) for x in (snap.uptime_s, *(t.start_time_s for t in snap.tasks)))
    assert len({t.pid for t in snap.tasks}) == len(snap.tasks)
    r = rank(snap)
    json.dumps(r.to_dict())
    assert len({t.task.pid for t in r.tasks}) == len(r.tasks)


@SETTINGS
@given(mutated_docs())
def test_mutated_snapshot_loads_or_is_refused(doc: object) -> None:
    _check(json.dumps(doc))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_byte_mutated_snapshot_loads_or_is_refused(data: st.DataObject) -> None:
    text = bytearray(json.dumps(BASE).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text) - 1))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            text[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            text[i:i] = data.draw(st.sampled_from([b"[", b"{", b"]", b"9" * 5000, b"NaN", b"\\", b'"', b"-", b"\xff"]))
        else:
            del text[i]
    _check(bytes(text))


def test_the_unmutated_base_loads_and_ranks() -> None:
    snap = Snapshot.from_json(json.dumps(BASE))
    r = rank(snap)  # the cgroup's members: 9 (50 pages) is the victim, 7 (adj -1000) is not a candidate
    assert [t.task.pid for t in r.tasks] == [9, 7] and r.victim is not None and r.victim.task.pid == 9
