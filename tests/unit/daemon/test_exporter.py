"""The exporter's text format, checked with prometheus_client's own parser, and its HTTP endpoint."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oomlens.daemon.exporter import Exporter
from oomlens.daemon.state import Candidate, DaemonState, DomainState, StateBox
from oomlens.sources.memstatus import Psi


def _box() -> StateBox:
    box = StateBox()
    odd = 'we"ird\\na\nme'  # a quote, a backslash, a newline: all must survive the label escaping
    v = Candidate(4242, odd, 731, 1)
    box.current = DaemonState((DomainState("/batch.slice", 5 << 20, 64 << 20, 16384, 6 << 20, 1 << 20, Psi(1.5, 0.25),
                                           v, (v, Candidate(17, "db", 12, 2))),), {"keep-db": 2, "idle": 0})
    box.counters.kernel_kill("global", "java", "agrees")
    box.counters.kernel_kill("global", "java", "agrees")
    box.counters.early_kill("/batch.slice", "hog")
    box.counters.lost(3)
    return box


def _parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_text_format_parses_back_to_the_state() -> None:
    ex = Exporter(_box())
    for took in (0.003, 0.02, 0.02, 7.0, 30.0):
        ex.scan_duration.observe(took)
    m = _parse(ex.render().decode())
    dom = {"domain": "/batch.slice"}
    assert m["oomlens_domain_headroom_bytes"] == [(dom, 5 << 20)]
    assert m["oomlens_domain_totalpages"] == [(dom, 16384)]
    assert m["oomlens_next_victim_info"] == [({**dom, "pid": "4242", "comm": 'we"ird\\na\nme'}, 1)]
    assert m["oomlens_candidate_badness"] == [({**dom, "rank": "1", "pid": "4242", "comm": 'we"ird\\na\nme'}, 731),
                                              ({**dom, "rank": "2", "pid": "17", "comm": "db"}, 12)]
    assert m["oomlens_domain_psi_some_avg10"] == [(dom, 1.5)] and m["oomlens_domain_psi_full_avg10"] == [(dom, 0.25)]
    assert m["oomlens_policy_drift"] == [({"rule": "idle"}, 0), ({"rule": "keep-db"}, 2)]
    assert m["oomlens_kernel_oom_kills_total"] == [({"domain": "global", "comm": "java", "verdict": "agrees"}, 2)]
    assert m["oomlens_early_kills_total"] == [({"domain": "/batch.slice", "comm": "hog"}, 1)]
    assert m["oomlens_kmsg_lost_records_total"] == [({}, 3)]
    buckets = {lab["le"]: n for lab, n in m["oomlens_scan_duration_seconds_bucket"]}
    assert (buckets["0.005"], buckets["0.01"], buckets["0.025"], buckets["5.0"], buckets["10.0"], buckets["+Inf"]) == \
        (1, 1, 3, 3, 4, 5)
    assert m["oomlens_scan_duration_seconds_count"] == [({}, 5)]
    assert m["oomlens_scan_duration_seconds_sum"][0][1] == pytest.approx(37.043)
    types = {f.name: f.type for f in text_string_to_metric_families(ex.render().decode())}
    assert types["oomlens_kernel_oom_kills"] == "counter" and types["oomlens_scan_duration_seconds"] == "histogram"
    assert types["oomlens_domain_headroom_bytes"] == "gauge"


def test_served_over_http_and_without_ssl() -> None:
    ex = Exporter(_box())
    ex.start("127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ex.port}/metrics", timeout=5) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert _parse(r.read().decode())["oomlens_kmsg_lost_records_total"] == [({}, 3)]
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{ex.port}/nothing", timeout=5)
        assert e.value.code == 404
        e.value.close()
    finally:
        ex.stop()


def test_exporter_module_does_not_import_ssl_or_http() -> None:
    import subprocess

    code = "import sys, oomlens.daemon.exporter; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "{'ssl', 'http', 'urllib', 'email', 'prometheus_client', 'wsgiref'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.strip() == "[]"
