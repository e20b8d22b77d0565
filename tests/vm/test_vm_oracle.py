"""The kernel is the oracle, on Debian's 6.1 and 6.12 kernels in throwaway qemu guests (cgroup v2).

For every scenario of :data:`tests.vm.guest.CASES` the guest recorded `oomlens top --json` taken before
the kernel acted, the kernel's own report and `oomlens postmortem --json` on it. Here: the kernel killed
the designed victim (else the scenario, not oomlens, is wrong), `top` named that very pid with the T the
kernel uses (computed in the guest from cgroupfs and /proc/meminfo alone), and the post-mortem agrees.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.vm.guest import CASES, Case

pytestmark = pytest.mark.vm

MiB_PAGES = 256


def _case(vm: dict[str, Any], case: Case) -> dict[str, Any]:
    rec: dict[str, Any] | None = vm["cases"].get(case.name)
    if rec is None:
        pytest.fail(f"{vm['release']}: the guest never ran {case.name} (done={vm.get('done')}, "
                    f"guest time {vm.get('elapsed')} s)")
    assert "error" not in rec, f"{vm['release']} {case.name}: the guest failed:\n{rec['error']}"
    return rec


def _context(vm: dict[str, Any], rec: dict[str, Any]) -> str:
    return f"\n[{vm['release']}] pids {rec.get('pids')}\n--- kernel log ---\n{rec.get('log', '')[-6000:]}"


def _event(rec: dict[str, Any]) -> dict[str, Any]:
    """The post-mortem event for this OOM (the one naming the kernel's victim)."""
    events = [e for e in rec["postmortem"]["events"]
              if (e.get("kernel_victim") or {}).get("pid") == rec["kernel_victim_pid"]]
    assert len(events) == 1, f"postmortem found {len(rec['postmortem']['events'])} events, none/several for " \
                             f"pid {rec['kernel_victim_pid']}"
    event: dict[str, Any] = events[0]
    return event


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_top_names_the_kernels_victim_and_postmortem_agrees(vm: dict[str, Any], case: Case) -> None:
    rec = _case(vm, case)
    ctx = _context(vm, rec)
    pids: dict[str, int] = rec["pids"]
    victim = rec["kernel_victim_pid"]
    assert victim == pids[case.expected], (
        f"scenario design broken: the kernel killed pid {victim}, not {case.expected} ({case.notes})" + ctx)
    top = rec["top"]
    assert top["victim"] is not None and top["victim"]["pid"] == victim, (
        f"oomlens top predicted {top['victim']}, the kernel killed {case.expected}[{victim}]" + ctx)
    want_constraint = "CONSTRAINT_MEMCG" if case.kind == "memcg" else "CONSTRAINT_NONE"
    assert top["domain"]["constraint"] == want_constraint
    assert top["domain"]["totalpages"] == rec["expected_totalpages"], "T differs from the kernel's rule" + ctx

    ev = _event(rec)
    assert ev["verdict"] == "agrees", f"postmortem: {ev.get('reason')} {ev.get('notes')}" + ctx
    assert ev["model_victim"]["pid"] == victim
    assert ev["constraint"] == want_constraint
    # a memcg report does not print the host's total swap: T may come as a range, which must hold the truth
    lo, hi = ev.get("totalpages_range") or (ev["totalpages"], ev["totalpages"])
    assert lo <= rec["expected_totalpages"] <= hi, (
        f"postmortem T {lo}..{hi} ({ev.get('totalpages_how')}), expected {rec['expected_totalpages']}" + ctx)


def _only(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def test_oom_group_kills_the_whole_group(vm: dict[str, Any]) -> None:
    case = _only("memcg-oom-group")
    rec = _case(vm, case)
    pids = rec["pids"]
    group = {pids[n] for n in case.group}
    ours = set(pids.values())
    assert rec["setup"]["oom_group"] == "1"
    assert set(rec["killed_pids"]) & ours == group, "the kernel's kill lines" + _context(vm, rec)
    for name in case.group:
        assert rec["died"].get(name) == -9, f"{name} was not SIGKILLed: {rec['died']}"
    assert "o24" not in rec["died"], "a task outside the oom.group cgroup died"
    top = rec["top"]
    assert {top["victim"]["pid"], *top["also_killed"]} == group, "oomlens top's group kill"
    assert (rec["top"].get("oom_group") or "").endswith("/g")


def test_unlimited_child_ranks_in_its_limited_parent(vm: dict[str, Any]) -> None:
    case = _only("memcg-unlimited-child")
    rec = _case(vm, case)
    sub = rec["top_sub"]
    assert sub["domain"]["totalpages"] == rec["expected_totalpages"] == rec["limit_bytes"] // vm["page_size"]
    assert sub["victim"]["pid"] == rec["kernel_victim_pid"] == rec["pids"]["u40"]


def test_adj_minus_1000_is_never_a_candidate(vm: dict[str, Any]) -> None:
    rec = _case(vm, _only("memcg-neg-adj-immune"))
    imm = rec["pids"]["imm48"]
    assert rec["status_kb"]["imm48"]["RssAnon"] >= 48 * 1024, "the immune task is the largest"
    assert imm not in {t["pid"] for t in rec["top"]["tasks"] if t["eligible"]}
    assert "imm48" not in rec["died"]


def test_negative_adj_spares_a_larger_process(vm: dict[str, Any]) -> None:
    rec = _case(vm, _only("memcg-neg-adj-spares"))
    tasks = {t["pid"]: t for t in rec["top"]["tasks"]}
    big, m32 = tasks[rec["pids"]["big40n300"]], tasks[rec["pids"]["m32"]]

    def rss(t: dict[str, int]) -> int:
        return t["rss_anon"] + t["rss_file"] + t["rss_shmem"]

    assert rss(big) > rss(m32) + 6 * MiB_PAGES, "the spared process must be the larger"
    assert big["oom_score_adj"] == -300
    assert big["badness"] < m32["badness"]


@pytest.mark.parametrize("name", ["memcg-swap-counts", "memcg-swap-T"])
def test_swap_is_really_in_use(vm: dict[str, Any], name: str) -> None:
    case = _only(name)
    rec = _case(vm, case)
    swapped = next(n for n in rec["pids"] if n.startswith("sw"))
    assert rec["status_kb"][swapped]["VmSwap"] >= 32 * 1024, f"{swapped} was not pushed to swap"
    tasks = {t["pid"]: t for t in rec["top"]["tasks"]}
    assert tasks[rec["pids"][swapped]]["swapents"] >= 32 * MiB_PAGES
    swap_max = rec["post_arm"]["swap_max"]
    assert rec["expected_totalpages"] == (rec["limit_bytes"] + swap_max) // vm["page_size"], \
        "T must include the cgroup's swap.max"


def test_global_swap_counts_in_T(vm: dict[str, Any]) -> None:
    rec = _case(vm, _only("global-swap"))
    m = rec["meminfo_kb"]
    assert m["SwapTotal"] > 0
    assert rec["expected_totalpages"] == (m["MemTotal"] + m["SwapTotal"]) // 4


def test_selftest_runs_on_cgroup_v2(vm: dict[str, Any]) -> None:
    st = vm.get("selftest")
    assert st is not None, "the guest did not run the selftest"
    assert "error" not in st, st.get("error")
    assert "json" in st, f"selftest printed no JSON (exit {st.get('rc')}): {st.get('stderr')} {st.get('stdout')}"
    assert st["json"]["hierarchy"].startswith("cgroup v2 at "), st["json"]["hierarchy"]
    results = st["json"]["results"]
    assert [r["scenario"] for r in results] == st["names"]
    for r in results:
        assert r["as_designed"], f"selftest {r['scenario']}: the kernel killed {r['kernel_holder']}"
        assert r["agrees"], f"selftest {r['scenario']}: predicted {r['predicted_holder']}, kernel " \
                            f"{r['kernel_holder']}\n{r['report']}"
        assert r["hierarchy"] == st["json"]["hierarchy"]
    assert st["rc"] == 0
    for r, pm in zip(results, st["postmortem"], strict=True):
        (ev,) = [e for e in pm["events"] if (e.get("kernel_victim") or {}).get("pid") == r["kernel_victim_pid"]]
        assert ev["verdict"] == "agrees", f"postmortem of selftest {r['scenario']}: {ev.get('reason')}"


def test_postmortem_of_the_whole_boot_log_agrees_on_every_oom(vm: dict[str, Any]) -> None:
    wl = vm["whole_log"]
    assert "error" not in wl, wl.get("error")
    victims = {rec["kernel_victim_pid"] for rec in vm["cases"].values() if "kernel_victim_pid" in rec}
    events = wl["events"]
    seen = {(e.get("kernel_victim") or {}).get("pid") for e in events}
    assert victims <= seen, f"postmortem missed the OOMs of {victims - seen}"
    bad = [(e.get("kernel_victim"), e["verdict"], e.get("reason")) for e in events if e["verdict"] != "agrees"]
    assert not bad, bad


def test_capability_tests_pass_inside_the_guest(vm: dict[str, Any]) -> None:
    """tests/vm/test_protect_*.py need root with CAP_SYS_RESOURCE: the guest has it, so none may skip."""
    ct = vm.get("capability_tests")
    assert ct is not None and "error" not in ct, ct
    if not ct["files"]:
        pytest.skip("no tests/vm/test_protect_*.py in this tree")
    assert ct["outcomes"], "no test ran"
    assert set(ct["outcomes"].values()) == {"passed"}, f"{ct['outcomes']}\n" + "\n".join(ct.get("failures", {}).values())
    assert ct["rc"] == 0
