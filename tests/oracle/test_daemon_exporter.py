"""The exporter, scraped over loopback while the daemon watches a throwaway memcg of holders with fixed sizes:
names and values must match `oomlens top --cgroup PATH --json`. No OOM is provoked (not marked oracle; it
needs root and a writable memory cgroup, else it skips)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from oomlens.selftest.harness import Holder, MemcgSandbox

from .daemon_proc import DaemonProc


def _scrape(url: str) -> dict[str, list]:
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_scrape_matches_top_json(memcg_oracle: str, tmp_path) -> None:
    with MemcgSandbox() as sb:
        sb.spawn([Holder("alpha", anon_mib=12), Holder("beta", anon_mib=6), Holder("gamma", anon_mib=3),
                  Holder("delta", anon_mib=1)])
        sb.set_limit(64 << 20)
        cfg = f'interval = "1s"\n[exporter]\nlisten = "127.0.0.1:0"\n[alerts]\ntop_k = 3\n[[domain]]\npath = "{sb.path}"\n'
        with DaemonProc(cfg, tmp_path) as d:
            started = d.wait_for(lambda x: x.get("msg") == "started", 20)
            assert started is not None, "".join(d.raw)
            assert d.wait_for(lambda x: x.get("msg") == "watching", 20)
            # "watching" is logged as the first scan ends; the exporter serves its result right after
            deadline = time.monotonic() + 10
            m = _scrape(f"http://{started[1]['exporter']}/metrics")
            while "oomlens_domain_totalpages" not in m and time.monotonic() < deadline:
                time.sleep(0.1)
                m = _scrape(f"http://{started[1]['exporter']}/metrics")
        top = json.loads(subprocess.run([sys.executable, "-m", "oomlens", "top", "--cgroup", sb.path, "--json"],
                                        capture_output=True, text=True, timeout=60, check=True).stdout)
    dom = sb.kernel_path
    assert m["oomlens_domain_totalpages"] == [({"domain": dom}, top["domain"]["totalpages"])]
    assert top["domain"]["totalpages"] == (64 << 20) // 4096
    (victim,) = m["oomlens_next_victim_info"]
    assert victim == ({"domain": dom, "pid": str(top["victim"]["pid"]), "comm": top["victim"]["name"]}, 1.0)
    assert top["victim"]["name"] == "alpha"
    cands = sorted(m["oomlens_candidate_badness"], key=lambda s: int(s[0]["rank"]))
    want = [t for t in top["tasks"] if t["eligible"]][:3]
    assert [(c[0]["pid"], c[0]["comm"], c[0]["rank"]) for c in cands] == \
        [(str(t["pid"]), t["name"], str(t["rank"])) for t in want]
    assert [t["name"] for t in want] == ["alpha", "beta", "gamma"]
    for (labels, value), t in zip(cands, want):
        # holders do not change size; /proc counters can move by a few pages between the two reads
        assert abs(value - t["badness"]) <= 64, (labels, value, t["badness"])
    (head,) = m["oomlens_domain_headroom_bytes"]
    assert head[0] == {"domain": dom} and 0 < head[1] <= 64 << 20
    assert "oomlens_scan_duration_seconds_count" in m and m["oomlens_scan_duration_seconds_count"][0][1] >= 1
    assert m["oomlens_kmsg_lost_records_total"] == [({}, 0.0)]
