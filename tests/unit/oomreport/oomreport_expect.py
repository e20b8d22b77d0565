"""Compare an :class:`OomEvent` with the hand-written ``<name>.expected.json`` schema used by
``tests/data/oomreport/{corpus,synthetic}`` (shared by the corpus and synthetic tests).

Keys of an ``event`` dict name one fact each (see ``actual``); ``hints`` / ``*_include`` are
subset checks. A top-level ``others`` maps an event index to more such dicts.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any

from oomlens.oomreport import OomEvent
from oomlens.sources.kernellog import iter_file_events

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "oomreport")


def expected_paths(kind: str) -> list[str]:
    """The ``*.expected.json`` files of ``tests/data/oomreport/<kind>``, after checking that every
    ``*.log`` there has one (and the other way round)."""
    d = os.path.join(DATA, kind)
    paths = sorted(glob.glob(os.path.join(d, "*.expected.json")))
    logs = {os.path.basename(p) for p in glob.glob(os.path.join(d, "*.log"))}
    assert logs == {os.path.basename(p).replace(".expected.json", ".log") for p in paths}
    return paths


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def actual(ev: OomEvent, key: str) -> Any:
    memcg, mi, table, inv = ev.memcg, ev.meminfo, ev.table, ev.invoked
    k0 = ev.killed[0] if ev.killed else None
    sel = ev.selection
    facts = {
        "victim_pid": lambda: ev.victim_pid, "victim_name": lambda: ev.victim_name,
        "selection_pid": lambda: sel.pid if sel else None,
        "selection_score": lambda: sel.score if sel else None,
        "selection_kind": lambda: sel.kind if sel else None,
        "selection_wording": lambda: sel.wording if sel else None,
        "constraint": lambda: ev.constraint, "domain": lambda: ev.domain,
        "oom_memcg": lambda: ev.oom_memcg, "task_memcg": lambda: ev.task_memcg,
        "cpuset": lambda: ev.cpuset, "mems_allowed": lambda: ev.mems_allowed,
        "nodemask": lambda: ev.nodemask,
        "memcg_limit_kb": lambda: memcg.limit_kb if memcg else None,
        "memsw_limit_kb": lambda: memcg.memsw_limit_kb if memcg else None,
        "swap_limit_kb": lambda: memcg.swap_limit_kb if memcg else None,
        "memcg_version": lambda: memcg.version if memcg else None,
        "memcg_stats": lambda: len(memcg.stats) if memcg else None,
        "pages_ram": lambda: mi.pages_ram if mi else None,
        "pages_reserved": lambda: mi.pages_reserved if mi else None,
        "total_swap_kb": lambda: mi.total_swap_kb if mi else None,
        "free_swap_kb": lambda: mi.free_swap_kb if mi else None,
        "zone_present_kb": lambda: [[z.node, z.zone, z.present_kb] for z in mi.zones] if mi else None,
        "table_rows": lambda: len(table.rows) if table else None,
        "table_variant": lambda: table.variant if table else None,
        "table_filtered": lambda: table.filtered if table else None,
        "table_truncated": lambda: table.truncated if table else None,
        "duplicates_removed": lambda: table.duplicates_removed if table else None,
        "row_names": lambda: [r.name for r in table.rows] if table else None,
        "row_pids": lambda: [r.pid for r in table.rows] if table else None,
        "kernel_release": lambda: ev.kernel_release, "host": lambda: ev.host,
        "start_line": lambda: ev.start_line, "end_line": lambda: ev.end_line,
        "timestamp": lambda: ev.timestamp, "uptime": lambda: ev.uptime,
        "sysrq": lambda: ev.sysrq, "has_invoked": lambda: inv is not None,
        "has_kill_line": lambda: bool(ev.killed), "no_killable": lambda: ev.no_killable,
        "panic": lambda: ev.panic,
        "invoked_comm": lambda: inv.comm if inv else None,
        "invoked_pid": lambda: inv.pid if inv else None,
        "invoked_variant": lambda: inv.variant if inv else None,
        "order": lambda: inv.order if inv else None,
        "gfp_mask": lambda: inv.gfp_mask if inv else None,
        "oom_adj": lambda: inv.oom_adj if inv else None,
        "cpu_pid": lambda: ev.cpu.pid if ev.cpu else None,
        "kill_uid": lambda: k0.uid if k0 else None,
        "kill_kind": lambda: k0.kind if k0 else None,
        "kill_variant": lambda: k0.variant if k0 else None,
        "kill_oom_score_adj": lambda: k0.oom_score_adj if k0 else None,
        "kill_pgtables_kb": lambda: k0.pgtables_kb if k0 else None,
        "kill_total_vm_kb": lambda: k0.total_vm_kb if k0 else None,
        "killed_pids": lambda: [k.pid for k in ev.killed],
        "reaped_pids": lambda: [r.pid for r in ev.reaped],
        "other_reaped_pids": lambda: [r.pid for r in ev.other_reaped],
        "already_exiting": lambda: [list(e) for e in ev.already_exiting],
        "oom_group_path": lambda: ev.oom_group_path,
        "sharing": lambda: [list(s) for s in ev.sharing_killed],
        "mm_pinned_by": lambda: [list(s) for s in ev.mm_pinned_by],
    }
    return facts[key]()


def check_event(ev: OomEvent, want: dict[str, Any], label: str = "") -> None:
    for key, value in want.items():
        if key == "hints":
            missing = set(value) - set(ev.format_hints)
            assert not missing, f"{label}: hints {missing} not in {ev.format_hints}"
        elif key == "trace_evidence_includes":
            assert set(value) <= set(ev.trace_evidence), f"{label}: {ev.trace_evidence}"
        elif key in ("notes_include", "warnings_include"):
            texts = ev.notes if key == "notes_include" else ev.warnings
            for frag in value:
                assert any(frag in t for t in texts), f"{label}: {frag!r} not in {texts}"
        else:
            got = actual(ev, key)
            assert got == value, f"{label}: {key} = {got!r}, expected {value!r}"


def check_file(kind: str, expected_path: str) -> list[OomEvent]:
    exp = load(expected_path)
    path = os.path.join(DATA, kind, exp["file"])
    events = list(iter_file_events(path))
    assert len(events) == exp["events"], [(e.start_line, e.victim_pid) for e in events]
    check_event(events[exp["main"]], exp["event"], exp["file"])
    for idx, want in exp.get("others", {}).items():
        check_event(events[int(idx)], want, f"{exp['file']}[{idx}]")
    if "victims" in exp:
        assert [[e.victim_pid, e.victim_name] for e in events] == exp["victims"]
    if "spans" in exp:
        assert [[e.start_line, e.end_line] for e in events] == exp["spans"]
    for e in events:
        assert e.source == path
        json.dumps(e.to_dict())
    return events
