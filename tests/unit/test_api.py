"""Ranking, explain and predict on hand-worked domains (values derived in comments, not by the code)."""

from __future__ import annotations

import dataclasses

import pytest

from oomlens.analysis import ranking as api
from oomlens.analysis.domain import snapshot_domain
from oomlens.errors import NoSuchProcess
from oomlens.kernel.eras import era_for
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemcgLimits, MemInfo, Task, VmSysctls

MI = MemInfo(totalram_pages=6_000_000, total_swap_pages=0)
CG = MemcgLimits(path="/t", version=1, memory_max=25_600)  # T = 25600, T//1000 = 25


def snap(tasks, memcg=None, release="6.18.44", *, ancestors=(), members=None, domain_pids=None, meminfo=MI):
    """A snapshot holding ``tasks`` (all members of ``memcg`` unless ``members`` says otherwise)."""
    return Snapshot(taken_at="2026-12-06T00:00:00+00:00", hostname="h", kernel_release=release, page_size=4096,
                    uptime_s=100.0, meminfo=meminfo, sysctls=VmSysctls(), tasks=tuple(tasks), cgroup=memcg,
                    cgroup_pids=tuple(t.pid for t in tasks) if memcg is not None and members is None
                    else tuple(members or ()),
                    cgroup_ancestors=tuple(ancestors), domain_pids=domain_pids)


def domain():
    return [Task(pid=10, name="A", rss_anon=10_000), Task(pid=11, name="B", rss_anon=8_000),
            Task(pid=12, name="C", rss_anon=1_000)]


def test_rank_contract_fields_and_scales():
    r = api.rank(snap(domain(), CG, "6.18.44"))
    doc = r.to_dict()
    assert doc["domain"] == {"constraint": "CONSTRAINT_MEMCG", "cgroup": "/t", "totalpages": 25_600,
                             "global_totalpages": 6_000_000, "page_size": 4096, "requested_cgroup": None,
                             "oom_kill_disabled": False}
    assert doc["victim"]["pid"] == 10 and [t["pid"] for t in doc["tasks"]] == [10, 11, 12]
    a = doc["tasks"][0]
    for k in ("pid", "name", "uid", "oom_score_adj", "rss_anon", "rss_file", "rss_shmem", "swapents",
              "pgtables_pages", "badness", "oom_score", "eligible", "reason"):
        assert k in a
    # badness uses the memcg T; oom_score uses the global T: (1000 + 10000*1000/6e6 = 1) * 2/3 = 667
    assert a["badness"] == 10_000 and a["oom_score"] == 667


def test_oom_score_uses_global_T_with_adj_in_memcg():
    t = Task(pid=5, name="x", rss_anon=100, oom_score_adj=500)
    r = api.rank(snap([t], CG, "6.18"))
    s = r.get(5)
    assert s.terms.points == 100 + 500 * 25
    # global: 100 + 500*6000 = 3_000_100 -> 3_000_100_000/6e6 = 500 -> 1500*2/3 = 1000
    assert s.oom_score == 1000


def test_explain_victim_counterfactuals_last_wins():
    r = api.rank(snap(domain(), CG, "6.18"))
    ex = api.explain(r, 10)
    assert ex.rival.task.pid == 11 and ex.margin == 2_000
    # 10000 + 25a <= 8000 (B is scanned later and wins ties) -> a <= -80
    assert (ex.spare_adj, ex.victim_adj) == (-80, -79)
    assert ex.shed_pages == 2_000


def test_explain_non_victim_tie_rule_changes_threshold():
    ex = api.explain(api.rank(snap(domain(), CG, "6.18")), 12)
    assert ex.rival.task.pid == 10 and ex.margin == -9_000
    assert ex.victim_adj == 360  # 1000 + 25a >= 10000 (C later, wins the tie on 5.9+)
    ex = api.explain(api.rank(snap(domain(), CG, "4.19")), 12)
    assert ex.victim_adj == 361  # 4.19: first scanned wins ties, so strictly greater


def test_explain_unknown_pid_and_ineligible():
    r = api.rank(snap(domain() + [Task(pid=13, name="D", rss_anon=9, oom_score_adj=-1000)], CG, "6.18"))
    with pytest.raises(NoSuchProcess):
        api.explain(r, 999)
    ex = api.explain(r, 13)
    assert ex.target.eligible is False and "-1000" in ex.notes[0]


def test_explain_when_adj_has_no_effect():
    small = MemcgLimits(path="/s", version=1, memory_max=900)  # T < 1000
    r = api.rank(snap(domain(), small, "6.18"))
    ex = api.explain(r, 12)
    assert ex.victim_adj is None and any("no effect" in n for n in ex.notes)


def test_predict_stops_when_need_is_met():
    steps = api.predict_snapshot(snap(domain(), CG, "6.18"), need_pages=9_000).steps
    assert [s.victim.task.pid for s in steps] == [10]
    steps = api.predict_snapshot(snap(domain(), CG, "6.18"), need_pages=15_000).steps
    assert [s.victim.task.pid for s in steps] == [10, 11] and steps[-1].cumulative_pages == 18_000
    assert [s.victim.task.pid for s in api.predict_snapshot(snap(domain(), CG, "6.18")).steps] == [10, 11, 12]


def test_predict_counts_only_anon_swap_pagetables_as_freed():
    t = Task(pid=1, name="f", rss_anon=10, rss_file=1000, rss_shmem=500, swapents=5, pgtables_bytes=3 * 4096)
    assert api.freed_by_kill(t, 4096) == 18


def test_kernel_override_changes_rules_and_notes():
    tasks = [Task(pid=1, name="root", uid=0, rss_anon=10_000), Task(pid=2, name="user", uid=1000, rss_anon=9_800)]
    assert api.rank(snap(tasks, None, "6.18")).victim.task.pid == 1
    r = api.rank(snap(tasks, None, "6.18"), kernel="4.4")  # root: 10000 - 300 = 9700 < 9800
    assert r.victim.task.pid == 2 and r.era.name == "4.0-4.6"
    assert any("rules of kernel 4.4" in n for n in r.notes)


def test_unlimited_cgroup_ranks_in_its_limited_ancestors_domain_with_its_tasks_marked():
    # Regression: /a/b (no limit) under /a (300,000 pages). The OOM happens in /a, whose other member 11
    # (in /a/c) competes: 11 (250,000) beats 10 (200,000, in /a/b). rank and predict_snapshot used to
    # disagree (rank: T = 300,000 but only /a/b's tasks; predict: T = PAGE_COUNTER_MAX).
    t10 = Task(pid=10, name="inb", rss_anon=200_000, memcg="/a/b")
    t11 = Task(pid=11, name="inc", rss_anon=250_000, memcg="/a/c")
    t12 = Task(pid=12, name="outside", rss_anon=900_000, memcg="/z")
    child = MemcgLimits(path="/a/b", version=1, memory_max=None)
    parent = MemcgLimits(path="/a", version=1, memory_max=300_000)
    s = snap([t10, t11, t12], child, ancestors=[parent], members=[10], domain_pids=[10, 11])
    r = api.rank(s)
    assert r.cgroup == "/a" and r.totalpages == 300_000 and r.victim.task.pid == 11
    assert [t.task.pid for t in r.tasks] == [11, 10]
    doc = r.to_dict()
    assert doc["domain"]["requested_cgroup"] == "/a/b"
    assert {t["pid"]: t["in_requested_cgroup"] for t in doc["tasks"]} == {11: False, 10: True}
    steps = api.predict_snapshot(s).steps
    assert [st.victim.task.pid for st in steps] == [11, 10]  # same domain, same victim as rank
    ex = api.explain(r, 10)
    assert ex.rival.task.pid == 11 and ex.margin == -50_000


def test_unlimited_cgroup_without_a_limited_ancestor_is_ranked_globally():
    t10 = Task(pid=10, name="inb", rss_anon=200_000, memcg="/a/b")
    t12 = Task(pid=12, name="outside", rss_anon=900_000, memcg="/z")
    child = MemcgLimits(path="/a/b", version=1, memory_max=None)
    s = snap([t10, t12], child, ancestors=[MemcgLimits(path="/a", version=1, memory_max=None)], members=[10])
    r = api.rank(s)
    # the global T: RAM + swap = 6,000,000; the next victim is 12, outside the requested cgroup
    assert r.cgroup is None and r.totalpages == 6_000_000 and r.victim.task.pid == 12
    assert any("only a global OOM" in n for n in r.notes)
    assert [st.victim.task.pid for st in api.predict_snapshot(s).steps] == [12, 10]


def test_old_snapshot_without_domain_members_says_the_victim_may_be_another():
    child = MemcgLimits(path="/a/b", version=1, memory_max=None)
    parent = MemcgLimits(path="/a", version=1, memory_max=300_000)
    d = snapshot_domain(snap([Task(pid=10, name="x", rss_anon=5, memcg="/a/b")], child, ancestors=[parent]),
                        era_for("6.18"))
    assert d.totalpages == 300_000 and [t.pid for t in d.tasks] == [10]
    assert "may be another task" in d.notes[0]


def test_oom_kill_disable_means_no_victim():
    cg = MemcgLimits(path="/t", version=1, memory_max=25_600, oom_kill_disable=True)
    r = api.rank(snap(domain(), cg))
    assert r.victim is None and r.selection.outcome == "oom_kill_disabled"
    doc = r.to_dict()
    assert doc["victim"] is None and doc["domain"]["oom_kill_disabled"] is True
    # the ranking is still shown (what would die if the flag were cleared), but explain names no rival
    assert [t["pid"] for t in doc["tasks"]] == [10, 11, 12]
    ex = api.explain(r, 10)
    assert ex.rival is None and ex.spare_adj is None and "kills nobody" in ex.notes[0]
    assert api.predict_snapshot(snap(domain(), cg)).steps == []


def test_predict_starts_from_ranks_victim_under_the_legacy_heuristic():
    # <=2.6.35 badness divides by int_sqrt(int_sqrt(run_time)), run_time = (uptime - start) >> 10, so uptime
    # matters. uptime 100,000 s: A (total_vm 1000, started at 0) -> run_time 97 -> 1000 // 3 = 333;
    # B (900, started at 99,990) -> run_time 0 -> 900. B is the victim. predict once re-ranked with uptime 0
    # (run_time 0 for both: A 1000 > B 900) and so named A first.
    a = Task(pid=10, name="A", uid=1000, total_vm=1000, rss_anon=100, start_time_s=0.0)
    b = Task(pid=11, name="B", uid=1000, total_vm=900, rss_anon=100, start_time_s=99_990.0)
    s = dataclasses.replace(snap([a, b]), uptime_s=100_000.0)
    r = api.rank(s, kernel="2.6.30")
    assert r.victim.task.pid == 11 and r.victim.terms.points == 900 and r.get(10).terms.points == 333
    steps = api.predict_snapshot(s, kernel="2.6.30").steps
    assert [st.victim.task.pid for st in steps] == [11, 10]
