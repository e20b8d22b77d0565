"""Ranking, explain and predict on hand-worked domains (values derived in comments, not by the code)."""

from __future__ import annotations

import pytest

from oomlens.analysis import ranking as api
from oomlens.errors import NoSuchProcess
from oomlens.kernel.types import MemcgLimits, MemInfo, Task

MI = MemInfo(totalram_pages=6_000_000, total_swap_pages=0)
CG = MemcgLimits(path="/t", version=1, memory_max=25_600)  # T = 25600, T//1000 = 25


def domain():
    return [Task(pid=10, name="A", rss_anon=10_000), Task(pid=11, name="B", rss_anon=8_000),
            Task(pid=12, name="C", rss_anon=1_000)]


def test_rank_contract_fields_and_scales():
    r = api.rank_tasks(domain(), MI, release="6.18.44", memcg=CG)
    doc = r.to_dict()
    assert doc["domain"] == {"constraint": "CONSTRAINT_MEMCG", "cgroup": "/t", "totalpages": 25_600,
                             "global_totalpages": 6_000_000, "page_size": 4096}
    assert doc["victim"]["pid"] == 10 and [t["pid"] for t in doc["tasks"]] == [10, 11, 12]
    a = doc["tasks"][0]
    for k in ("pid", "name", "uid", "oom_score_adj", "rss_anon", "rss_file", "rss_shmem", "swapents",
              "pgtables_pages", "badness", "oom_score", "eligible", "reason"):
        assert k in a
    # badness uses the memcg T; oom_score uses the global T: (1000 + 10000*1000/6e6 = 1) * 2/3 = 667
    assert a["badness"] == 10_000 and a["oom_score"] == 667


def test_oom_score_uses_global_T_with_adj_in_memcg():
    t = Task(pid=5, name="x", rss_anon=100, oom_score_adj=500)
    r = api.rank_tasks([t], MI, release="6.18", memcg=CG)
    s = r.get(5)
    assert s.terms.points == 100 + 500 * 25
    # global: 100 + 500*6000 = 3_000_100 -> 3_000_100_000/6e6 = 500 -> 1500*2/3 = 1000
    assert s.oom_score == 1000


def test_explain_victim_counterfactuals_last_wins():
    r = api.rank_tasks(domain(), MI, release="6.18", memcg=CG)
    ex = api.explain(r, 10)
    assert ex.rival.task.pid == 11 and ex.margin == 2_000
    # 10000 + 25a <= 8000 (B is scanned later and wins ties) -> a <= -80
    assert (ex.spare_adj, ex.victim_adj) == (-80, -79)
    assert ex.shed_pages == 2_000


def test_explain_non_victim_tie_rule_changes_threshold():
    ex = api.explain(api.rank_tasks(domain(), MI, release="6.18", memcg=CG), 12)
    assert ex.rival.task.pid == 10 and ex.margin == -9_000
    assert ex.victim_adj == 360  # 1000 + 25a >= 10000 (C later, wins the tie on 5.9+)
    ex = api.explain(api.rank_tasks(domain(), MI, release="4.19", memcg=CG), 12)
    assert ex.victim_adj == 361  # 4.19: first scanned wins ties, so strictly greater


def test_explain_unknown_pid_and_ineligible():
    r = api.rank_tasks(domain() + [Task(pid=13, name="D", rss_anon=9, oom_score_adj=-1000)], MI,
                       release="6.18", memcg=CG)
    with pytest.raises(NoSuchProcess):
        api.explain(r, 999)
    ex = api.explain(r, 13)
    assert ex.target.eligible is False and "-1000" in ex.notes[0]


def test_explain_when_adj_has_no_effect():
    small = MemcgLimits(path="/s", version=1, memory_max=900)  # T < 1000
    r = api.rank_tasks(domain(), MI, release="6.18", memcg=small)
    ex = api.explain(r, 12)
    assert ex.victim_adj is None and any("no effect" in n for n in ex.notes)


def test_predict_stops_when_need_is_met():
    steps = api.predict(domain(), MI, release="6.18", memcg=CG, need_pages=9_000)
    assert [s.victim.task.pid for s in steps] == [10]
    steps = api.predict(domain(), MI, release="6.18", memcg=CG, need_pages=15_000)
    assert [s.victim.task.pid for s in steps] == [10, 11] and steps[-1].cumulative_pages == 18_000
    assert [s.victim.task.pid for s in api.predict(domain(), MI, release="6.18", memcg=CG)] == [10, 11, 12]


def test_predict_counts_only_anon_swap_pagetables_as_freed():
    t = Task(pid=1, name="f", rss_anon=10, rss_file=1000, rss_shmem=500, swapents=5, pgtables_bytes=3 * 4096)
    assert api.freed_by_kill(t) == 18


def test_kernel_override_changes_rules_and_notes():
    tasks = [Task(pid=1, name="root", uid=0, rss_anon=10_000), Task(pid=2, name="user", uid=1000, rss_anon=9_800)]
    assert api.rank_tasks(tasks, MI, release="6.18").victim.task.pid == 1
    r = api.rank_tasks(tasks, MI, release="6.18", kernel="4.4")  # root: 10000 - 300 = 9700 < 9800
    assert r.victim.task.pid == 2 and r.era.name == "4.0-4.6"
    assert any("rules of kernel 4.4" in n for n in r.notes)


def test_unlimited_cgroup_uses_the_limited_ancestor_or_global():
    child = MemcgLimits(path="/a/b", version=1, memory_max=None)
    parent = MemcgLimits(path="/a", version=1, memory_max=5000)
    eff, note = api.effective_memcg(child, [parent])
    assert eff.memory_max == 5000 and eff.path == "/a/b" and "ancestor /a" in note
    eff, note = api.effective_memcg(child, [MemcgLimits(path="/a", version=1, memory_max=None)])
    assert eff is None and "only a global OOM" in note
    assert api.effective_memcg(parent, []) == (parent, None)
