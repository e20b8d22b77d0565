"""The daemon's early kill on the *global* domain, against Debian's 6.1 and 6.12 kernels (qemu guests).

In the guest (:func:`tests.vm.guest.run_early_kill`): `oomlens daemon` watches the global domain with
`[action] kill = true`; pinned holders of 192 MiB (protected by the policy), 128 MiB and 48 MiB and an
immune filler take the RAM, then a process grows at 20 MiB/s. Here: the daemon killed the largest
unprotected process (by sizes the guest read from /proc itself), with its own signal, at headroom below
`kill_below`, never the protected process, and the kernel logged no OOM at all.
"""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest
from tests.vm.guest import EARLY_HOLDERS, EARLY_KILL_PCT

pytestmark = pytest.mark.vm


def _rec(vm: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] | None = vm.get("early_kill")
    if rec is None:
        pytest.fail(f"{vm['release']}: the guest never ran the early-kill scenario (done={vm.get('done')})")
    assert "error" not in rec, f"{vm['release']}: the guest failed:\n{rec['error']}"
    return rec


def _ctx(vm: dict[str, Any], rec: dict[str, Any]) -> str:
    return (f"\n[{vm['release']}] pids {rec.get('pids')}\n--- daemon ---\n{rec.get('daemon_raw_tail', '')}"
            f"\n--- kernel log ---\n{rec.get('log', '')[-4000:]}")


def _kb(p: dict[str, Any]) -> int:
    return int(p["rss_kb"] + p["swap_kb"] + p["pte_kb"])


def test_scenario_design(vm: dict[str, Any]) -> None:
    """The protected holder is what the kernel would kill (largest, adj 0); the next largest killable
    process, by /proc read in the guest, is the designed victim, with a margin the grower never closed."""
    rec = _rec(vm)
    pids = rec["pids"]
    sizes = {int(k): v for k, v in rec["sizes_before"].items()}
    assert rec["model_victim_before"] == pids[rec["protected"]], "the model's global victim before the growth" + _ctx(vm, rec)
    for h in EARLY_HOLDERS:
        assert sizes[pids[h.name]]["rss_kb"] >= h.anon_mib * 1024, f"{h.name} does not hold its memory"
    assert sizes[pids["filler"]]["adj"] == -1000
    assert sizes[pids["grower"]]["adj"] == 0
    killable = {pid: p for pid, p in sizes.items()
                if p["adj"] != -1000 and pid not in (pids[rec["protected"]], rec["daemon_pid"])}
    ranked = sorted(killable, key=lambda pid: _kb(killable[pid]), reverse=True)
    assert ranked[0] == pids[rec["expected"]], f"largest killable before the growth: {killable[ranked[0]]}"
    # the grower only grew until it was stopped (after the kill): its size then bounds its size at the kill
    after = rec["grower_after_kb"]
    assert after is not None, "the grower died" + _ctx(vm, rec)
    grower_kb = after["VmRSS"] + after.get("VmSwap", 0) + after.get("VmPTE", 0)
    assert grower_kb + 8 * 1024 < _kb(killable[ranked[0]]), f"the grower ({grower_kb} kB) came near the victim"
    assert grower_kb > _kb(sizes[pids["grower"]]) + 16 * 1024, "the grower did not grow"
    assert vm["page_size"] == 4096


def test_daemon_kills_the_models_victim_before_the_kernel(vm: dict[str, Any]) -> None:
    rec = _rec(vm)
    ctx = _ctx(vm, rec)
    pids = rec["pids"]
    alert = rec.get("early_kill")
    assert alert is not None, "the daemon did not act" + ctx
    assert alert["domain"] == "global"
    assert alert["pid"] == pids[rec["expected"]] and alert["comm"] == rec["expected"], f"early kill {alert}" + ctx
    assert alert["verdict"] in ("SIGTERM", "SIGKILL"), alert
    # it acted below kill_below = 5% of T (T = MemTotal + SwapTotal, from /proc/meminfo in the guest)
    m = re.search(r"headroom (\d+) bytes", alert["detail"])
    assert m, alert["detail"]
    assert 0 < int(m[1]) < rec["T_pages"] * vm["page_size"] * EARLY_KILL_PCT // 100, alert["detail"]

    died = rec["died"]
    want = {-signal.Signals[alert["verdict"]].value} | ({-signal.SIGKILL.value} if alert["verdict"] == "SIGTERM" else set())
    assert died.get(rec["expected"]) in want, f"the victim's exit: {died}" + ctx
    assert rec["protected"] not in died, f"the protected process died: {died}" + ctx
    for name in ("small", "filler"):
        assert name not in died, f"{name} died: {died}" + ctx
    kills = [x for x in rec["daemon_lines"] if x.get("event") == "early-kill"]
    assert [x["pid"] for x in kills] == [alert["pid"]], f"early kills: {kills}"
    at_risk = [x for x in rec["daemon_lines"] if x.get("event") == "protected-at-risk"]
    assert pids[rec["protected"]] in {x.get("pid") for x in at_risk}, "protected-at-risk not alerted"

    # the kernel never got there: no OOM report after the scenario's marker
    assert rec["killed_pids"] == [], f"the kernel killed {rec['killed_pids']}" + ctx
    assert "invoked oom-killer" not in rec["log"] and "Killed process" not in rec["log"], ctx
    assert rec["daemon_rc"] == 0, ctx
