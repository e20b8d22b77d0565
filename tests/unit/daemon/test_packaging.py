"""Packaging stays in step with the code: the dashboard and the unit name only metrics the exporter serves;
the unit's adj is negative but never -1000 and it grants exactly the four justified capabilities."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from oomlens.daemon.exporter import Exporter
from oomlens.daemon.state import Candidate, DaemonState, DomainState, StateBox
from oomlens.sources.memstatus import Psi

ROOT = Path(__file__).parents[3] / "packaging"


def _served_names() -> set[str]:
    box = StateBox()
    c = Candidate(7, "x", 10, 1)
    box.current = DaemonState((DomainState("global", 1, 2, 3, 1, 0, Psi(1.0, 0.5), c, (c,)),), {"r": 1})
    box.counters.kernel_kill("global", "x", "agrees")
    box.counters.early_kill("global", "x")
    ex = Exporter(box)
    ex.scan_duration.observe(0.01)
    return {s.name for fam in text_string_to_metric_families(ex.render().decode()) for s in fam.samples}


def test_dashboard_uses_only_served_metrics() -> None:
    served = _served_names()
    for name in ("oomlens_domain_headroom_bytes", "oomlens_domain_totalpages", "oomlens_next_victim_info",
                 "oomlens_candidate_badness", "oomlens_kernel_oom_kills_total", "oomlens_policy_drift",
                 "oomlens_scan_duration_seconds_bucket", "oomlens_early_kills_total"):
        assert name in served, name
    dash = json.loads((ROOT / "grafana" / "oomlens-dashboard.json").read_text())
    used = {m for p in dash["panels"] for t in p["targets"] for m in re.findall(r"oomlens_[a-z0-9_]+", t["expr"])}
    assert used and used <= served, used - served
    assert served - {"oomlens_scan_duration_seconds_count", "oomlens_scan_duration_seconds_sum",
                     "oomlens_scan_duration_seconds_created", "oomlens_kernel_oom_kills_created",
                     "oomlens_early_kills_created", "oomlens_kmsg_lost_records_created"} <= used | {
        "oomlens_scan_duration_seconds_bucket"}


def test_systemd_unit_adj_and_capabilities() -> None:
    unit = (ROOT / "systemd" / "oomlens.service").read_text()
    adj = int(re.search(r"^OOMScoreAdjust=(-?\d+)", unit, re.M)[1])
    assert -1000 < adj < 0
    caps = set(re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M)[1].split())
    assert caps == {"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_SYSLOG", "CAP_KILL"}
    assert set(re.search(r"^AmbientCapabilities=(.*)$", unit, re.M)[1].split()) == caps
    for line in ("ProtectSystem=strict", "NoNewPrivileges=yes"):
        assert re.search(rf"^{line}$", unit, re.M), line
    for cap in caps:  # each one justified in a comment
        assert re.search(rf"^# {cap}:", unit, re.M), cap
