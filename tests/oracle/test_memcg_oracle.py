"""The kernel is the oracle: for every builtin scenario, `oomlens top --cgroup PATH --json` must name
the very process the kernel then OOM-kills, and its per-task memory must match the kernel's table.

Each scenario also checks its own design (the kernel kills the designed victim) and an independent
/proc-based reference predictor, so a failure says whether the scenario, or oomlens, is wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import parse_text
from oomlens.selftest.harness import BUILTIN_SCENARIOS, PAGE_SIZE, Scenario, run_scenario

from . import reference_predictor

pytestmark = pytest.mark.oracle

#: /proc (precise) against the kernel's OOM-time percpu counters: a few dozen pages apart here.
RSS_TOLERANCE_PAGES = 256
#: Charges the kernel caches per CPU and per memcg (up to 64 pages each) and releases under pressure.
TRIGGER_SLACK_PAGES = 768


def oomlens_top(cgroup: str) -> dict:
    cmd = [sys.executable, "-m", "oomlens", "top", "--cgroup", cgroup, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[1:])}` exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def _rss(task: dict) -> int:
    return task["rss_anon"] + task["rss_file"] + task["rss_shmem"]


@pytest.mark.parametrize("scenario", BUILTIN_SCENARIOS, ids=lambda s: s.name)
def test_cli_predicts_the_kernels_victim(scenario: Scenario, memcg_oracle: str) -> None:
    seen: dict = {}

    def predict(cgroup: str) -> int:
        seen["reference"] = reference_predictor.predict(cgroup)
        seen["cli"] = data = oomlens_top(cgroup)
        return data["victim"]["pid"]

    res = run_scenario(scenario, predict)
    context = f"\n{res.summary()}\n--- kernel report ---\n{res.report}"
    assert res.report_complete, "the kernel's report came without its task table (ratelimited)" + context
    assert res.as_designed, f"scenario design broken: {scenario.notes}" + context
    assert seen.get("reference") == res.kernel_victim_pid, "the reference /proc predictor disagrees" + context
    assert res.predict_error is None, f"oomlens top failed: {res.predict_error}" + context
    assert res.predicted_pid == res.kernel_victim_pid, "oomlens predicted another victim" + context

    # The post-mortem reads the kernel's own report of this OOM and must agree with the kernel too.
    events = parse_text(res.report, "kernel")
    assert len(events) == 1, context
    (pm,) = [a.to_dict() for a in analyze_events(events)]
    assert pm["verdict"] == "agrees", f"postmortem: {pm['reason']}" + context
    assert pm["model_victim"]["pid"] == pm["kernel_victim"]["pid"] == res.kernel_victim_pid
    assert pm["constraint"] == "CONSTRAINT_MEMCG" and pm["totalpages"] == res.limit_bytes // PAGE_SIZE

    data = seen["cli"]
    assert data["victim"]["name"] == res.kernel_victim_name
    assert data["domain"]["constraint"] == "CONSTRAINT_MEMCG"
    assert data["domain"]["totalpages"] == res.limit_bytes // PAGE_SIZE, "T must be the memcg limit in pages"

    # Units: every task oomlens lists is a row of the kernel's table with (nearly) the same rss. The
    # allocating task grew between the prediction and the OOM: by what it says it touched when it
    # survived, else by at most the headroom plus what the kernel's percpu charge caches released.
    grown = res.trigger_allocated_pages
    for task in data["tasks"]:
        row = res.kernel_tasks.get(task["pid"])
        assert row is not None, f"oomlens listed pid {task['pid']}, absent from the kernel's table" + context
        expected, slack = _rss(task), RSS_TOLERANCE_PAGES
        if task["pid"] == res.trigger_pid:
            if grown is not None:
                expected += grown
            else:
                expected += res.headroom_bytes // PAGE_SIZE
                slack += TRIGGER_SLACK_PAGES
        assert abs(expected - _rss(row)) <= slack, (
            f"pid {task['pid']} ({res.holder_of(task['pid'])}): oomlens rss {_rss(task)} pages, "
            f"kernel {_rss(row)} pages" + context)
