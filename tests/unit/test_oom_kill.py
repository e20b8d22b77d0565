"""Golden tests for the pure kernel model. Expected values are worked by hand from kernel-oom-spec.md
(the arithmetic is spelled out next to each), never computed by the code under test."""

from __future__ import annotations

import ctypes
import itertools

import pytest

from oomlens.kernel.eras import ERAS, era_by_name, era_for
from oomlens.kernel.oom_kill import (
    OomControl,
    badness,
    badness_terms,
    c_div,
    constrained_alloc,
    kill_order,
    mem_cgroup_get_max,
    mem_cgroup_get_oom_group,
    oom_adj_to_oom_score_adj,
    oom_badness,
    oom_score_adj_to_oom_adj,
    out_of_memory,
    proc_oom_score,
    select_bad_process,
)
from oomlens.kernel.types import LONG_MIN, MemcgLimits, MemInfo, OomConstraint, Task, VmSysctls

E59 = era_for("6.18")
E419 = era_for("4.19")
E47 = era_for("4.7")
E44 = era_for("4.4")
E310 = era_for("3.10")
E30 = era_for("3.0")
E32 = era_for("3.2")
E2632 = era_for("2.6.32")


def T(pid=100, **kw):
    kw.setdefault("name", f"t{pid}")
    kw.setdefault("uid", 1000)
    return Task(pid=pid, **kw)


# ----------------------------------------------------------------- C arithmetic

@pytest.mark.parametrize("a,b,q", [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (-1, 1000, 0), (0, 5, 0)])
def test_c_div_truncates_toward_zero(a, b, q):
    assert c_div(a, b) == q


# ----------------------------------------------------------------- 5.9+

def test_signed_era_term_by_term_and_negative():
    # rss 100+20+5=125, swap 10, pgtables 8192 B = 2 pages -> 137; adj -500 * (1_000_000 // 1000) = -500_000
    t = T(rss_anon=100, rss_file=20, rss_shmem=5, swapents=10, pgtables_bytes=8192, oom_score_adj=-500)
    b = badness_terms(t, 1_000_000, E59, page_size=4096)
    assert (b.rss, b.swapents, b.pgtables, b.adj_term) == (125, 10, 2, -500_000)
    assert b.points == 137 - 500_000 == -499_863
    # /proc: (1000 + (-499_863_000 / 1_000_000 = -499, truncated)) * 2 / 3 = 501*2/3 = 334 (floor would give 333)
    assert proc_oom_score(b.points, 1_000_000, E59) == 334


def test_signed_era_divides_T_first():
    # T = 1999 -> T//1000 = 1, so adj 300 adds 300 pages, not 300*1999/1000 = 599
    assert oom_badness(T(rss_anon=10, oom_score_adj=300), 1999, E59, page_size=4096) == 310
    # T < 1000 -> adj has no effect at all
    assert oom_badness(T(rss_anon=10, oom_score_adj=1000), 999, E59, page_size=4096) == 10


def test_signed_era_idle_task_reads_666():
    # spec §7: T = 6170914; idle python 7104 kB anon (1776 pages) + 76 kB PTE (19 pages) -> 1795
    b = oom_badness(T(rss_anon=1776, pgtables_bytes=76 * 1024), 6170914, E59, page_size=4096)
    assert b == 1795
    # 1795*1000/6170914 = 0 -> (1000+0)*2/3 = 666
    assert proc_oom_score(b, 6170914, E59) == 666


def test_signed_era_spec7_4gib_row():
    # spec §7 "+4 GiB": RssAnon 4201416 kB, VmPTE 8284 kB, observed 780
    b = oom_badness(T(rss_anon=4201416 // 4, pgtables_bytes=8284 * 1024), 6170914, E59, page_size=4096)
    assert b == 1050354 + 2071
    assert proc_oom_score(b, 6170914, E59) == 780  # (1000 + 170) * 2 / 3


@pytest.mark.parametrize("task,reason", [
    (T(pid=1, is_global_init=True, rss_anon=10**6), "global init"),
    (T(is_kthread=True, has_mm=False), "kernel thread"),
    (T(has_mm=False), "no mm"),
    (T(rss_anon=10**6, oom_score_adj=-1000), "-1000"),
    (T(rss_anon=10**6, oom_skip=True), "MMF_OOM_SKIP"),
    (T(rss_anon=10**6, in_vfork=True), "vfork"),
])
def test_ineligible_is_long_min_in_59_and_0_before(task, reason):
    b = badness_terms(task, 10**6, E59, page_size=4096)
    assert b.points == LONG_MIN and not b.eligible and reason in b.reason
    assert proc_oom_score(b.points, 10**6, E59) == 0
    b419 = badness_terms(task, 10**6, E419, page_size=4096)
    assert b419.points == 0 and not b419.eligible


def test_container_pid1_is_a_candidate():
    assert oom_badness(T(pid=1, rss_anon=50), 10**6, E59, page_size=4096) == 50


# ----------------------------------------------------------------- 3.5 - 5.8

def test_pages_era_clamps_to_one():
    t = T(rss_anon=100, oom_score_adj=-500)
    b = badness_terms(t, 1_000_000, E419, page_size=4096)
    assert b.unclamped == 100 - 500_000 and b.points == 1 and b.clamped
    assert proc_oom_score(1, 1_000_000, E419) == 0  # 1*1000/1e6


def test_pct3_root_bonus_3_14_to_4_16():
    # 10000 pages, root: points -= 10000*3/100 = 300 -> 9700; + adj 10 * (2_000_000/1000) = 20000
    t = T(uid=0, rss_anon=9990, pgtables_bytes=0, nr_ptes=6, nr_pmds=4, oom_score_adj=10)
    b = badness_terms(t, 2_000_000, E44, page_size=4096)
    assert b.base == 10000 and b.root_bonus == 300 and b.points == 9700 + 20000
    assert any("uid 0" in a for a in b.assumptions)
    # same task, capability known absent: no bonus
    assert oom_badness(t.with_(cap_sys_admin=False), 2_000_000, E44, page_size=4096) == 30000


def test_adj30_root_bonus_3_5_to_3_13_and_nr_ptes_only():
    # 3.10 counts nr_ptes but not nr_pmds: 5000 + 7 = 5007; root adj 0-30 = -30 * 2000 = -60000 -> clamp 1
    t = T(uid=0, rss_anon=5000, nr_ptes=7, nr_pmds=3)
    b = badness_terms(t, 2_000_000, E310, page_size=4096)
    assert b.base == 5007 and b.adj_term == -60000 and b.points == 1
    # with 100000 pages: 100007 - 60000 = 40007
    assert oom_badness(t.with_(rss_anon=100000), 2_000_000, E310, page_size=4096) == 40007


def test_no_root_bonus_from_4_17():
    assert oom_badness(T(uid=0, rss_anon=10000), 10**6, E419, page_size=4096) == 10000


# ----------------------------------------------------------------- 2.6.36 - 3.4

def test_permille_era():
    # (5000*1000/100000) = 50, root -30 = 20, adj +100 = 120
    assert oom_badness(T(uid=0, rss_anon=4990, nr_ptes=10, oom_score_adj=100), 100000, E32, page_size=4096) == 120
    # clamp to 1000 and to 1
    assert oom_badness(T(rss_anon=100000, oom_score_adj=500), 100000, E32, page_size=4096) == 1000
    assert oom_badness(T(rss_anon=1, oom_score_adj=-999), 100000, E32, page_size=4096) == 1


def test_permille_overflow_2_6_36_to_3_1_matches_c_int_semantics():
    base, total = 3_000_000, 4_000_000
    # independent emulation with ctypes: int points = base; points *= 1000; points /= (unsigned long)T
    p = ctypes.c_int32(ctypes.c_int32(base).value * 1000).value
    q = ctypes.c_int32(ctypes.c_uint64(p).value // total).value
    expected = 1 if q <= 0 else min(q, 1000)
    b = badness_terms(T(rss_anon=base, cap_sys_admin=False), total, E30, page_size=4096)
    assert b.overflowed and b.points == expected
    # 3.2 (long points) gives the true value 750
    assert oom_badness(T(rss_anon=base, cap_sys_admin=False), total, E32, page_size=4096) == 750


# ----------------------------------------------------------------- legacy <= 2.6.35

def test_legacy_heuristic_worked_example():
    # total_vm 100000 + child (20001/2+1 = 10001) = 110001
    # cpu: 6554 USER_HZ ticks -> 16385 jiffies at HZ=250 -> >> (7+3) = 16 -> /int_sqrt(16)=4 -> 27500
    # run: 163840 s -> >>10 = 160 -> /int_sqrt(int_sqrt(160)=12)=3 -> 9166
    # niced -> 18332; oom_adj +2 -> << 2 = 73328
    child = T(pid=200, total_vm=20001, ppid=100)
    parent = T(pid=100, total_vm=100000, children=(200,), utime_ticks=6554, stime_ticks=0,
               start_time_s=1000.0, nice=5, legacy_oom_adj=2, cap_sys_admin=False, cap_sys_resource=False,
               cap_sys_rawio=False)
    b = badness(parent, 1000.0 + 163840, E2632, {100: parent, 200: child}, hz=250)
    assert [p for _, p in b.legacy] == [100000, 110001, 27500, 9166, 18332, 73328]
    assert b.points == 73328


def test_legacy_privileged_and_rawio_stack_and_disable():
    t = T(total_vm=1600, cap_sys_admin=True, cap_sys_rawio=True)
    assert badness(t, 0, E2632).points == 100  # /4 /4
    assert not badness(t.with_(legacy_oom_adj=-17), 0, E2632).eligible
    # <=2.6.24: uid 0 counts as privileged
    assert badness(T(uid=0, total_vm=1600), 0, era_for("2.6.20")).points == 400
    assert badness(T(uid=0, total_vm=1600, cap_sys_admin=False), 0, E2632).points == 1600


def test_legacy_first_eligible_taken_even_at_zero():
    oc = OomControl(page_size=4096, tasks=[T(pid=5, total_vm=0), T(pid=6, total_vm=0)], meminfo=MemInfo(1000), era=E2632)
    out_of_memory(oc)
    assert oc.chosen.pid == 5


# ----------------------------------------------------------------- ties and selection

def _pick(era, tasks, memcg=None, total=10**6):
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(total), era=era, memcg=memcg)
    return out_of_memory(oc)


@pytest.mark.parametrize("era,memcg,winner", [
    (E59, False, 2), (E419, False, 1), (E44, False, 1), (E47, False, 2), (E47, True, 1),
    (era_for("5.4"), False, 2), (era_for("5.2"), False, 1), (E32, False, 1),
])
def test_tie_rules(era, memcg, winner):
    tasks = [T(pid=1 + 0, name="a", rss_anon=500, pgtables_bytes=0), T(pid=2, name="b", rss_anon=500)]
    mc = MemcgLimits(path="/x", version=1, memory_max=10**6) if memcg else None
    assert _pick(era, tasks, mc).victim.pid == winner


def test_all_negative_adj_before_5_9_first_scanned_wins_commit_9066e5cfb73c():
    # every task clamps to 1: the first scanned ('pause', 1 page) dies on 5.1/5.2
    tasks = [T(pid=10, name="pause", rss_anon=1, oom_score_adj=-998),
             T(pid=11, name="big", rss_anon=5000, oom_score_adj=-998)]
    assert _pick(era_for("5.2"), tasks).victim.name == "pause"
    # 5.9+: scores are -997999+1 and -997999+5000 -> big dies
    assert _pick(E59, tasks).victim.name == "big"


def test_selection_is_the_max_for_any_permutation():
    tasks = [T(pid=i, rss_anon=r, oom_score_adj=a) for i, (r, a) in enumerate([(100, 0), (50, 1), (10, 5), (900, -1)], 1)]
    # T = 100_000 -> T//1000 = 100: 100, 50+100, 10+500, 900-100 -> pid 4 (800)
    for perm in itertools.permutations(tasks):
        assert _pick(E59, list(perm), total=100_000).victim.pid == 4


def test_kill_order_matches_repeated_selection():
    tasks = [T(pid=i, rss_anon=r) for i, r in enumerate([30, 10, 30, 20, 10], 1)]
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(10**6), era=E59)
    constrained_alloc(oc)
    order = [e.task.pid for e in kill_order(select_bad_process(oc), E59)]
    remaining, expected = list(tasks), []
    while remaining:
        v = _pick(E59, remaining).victim
        expected.append(v.pid)
        remaining = [t for t in remaining if t.pid != v.pid]
    assert order == expected == [3, 1, 4, 5, 2]


def test_no_killable_global_panics_memcg_does_not():
    tasks = [T(rss_anon=100, oom_score_adj=-1000)]
    assert _pick(E59, tasks).outcome == "panic"
    assert _pick(E59, tasks, MemcgLimits("/x", 1, 1000)).outcome == "no_killable"


# ----------------------------------------------------------------- sacrifice child, allocating task, panic, oom.group

def test_sacrifice_child_highest_until_5_0_and_removed_in_5_1():
    parent = T(pid=10, rss_anon=9000, children=(11, 12))
    kids = [T(pid=11, ppid=10, rss_anon=100), T(pid=12, ppid=10, rss_anon=300)]
    sel = _pick(E419, [parent, *kids])
    assert sel.chosen.pid == 10 and sel.victim.pid == 12 and sel.sacrificed_for.pid == 10
    assert _pick(era_for("5.1"), [parent, *kids]).victim.pid == 10


def test_legacy_sacrifice_first_child():
    parent = T(pid=10, total_vm=9000, children=(11, 12))
    kids = [T(pid=11, ppid=10, total_vm=100), T(pid=12, ppid=10, total_vm=300)]
    assert _pick(E2632, [parent, *kids]).victim.pid == 11


def test_oom_kill_allocating_task_global_only():
    tasks = [T(pid=10, rss_anon=9000), T(pid=11, rss_anon=10)]
    sysctls = VmSysctls(oom_kill_allocating_task=1)
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(10**6), era=E59, current=11, sysctls=sysctls)
    sel = out_of_memory(oc)
    assert sel.outcome == "kill_allocating_task" and sel.victim.pid == 11
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(10**6), era=E59, current=11, sysctls=sysctls,
                    memcg=MemcgLimits("/x", 1, 10**5))
    assert out_of_memory(oc).victim.pid == 10


@pytest.mark.parametrize("mode,memcg,panics", [(0, False, False), (1, False, True), (1, True, False), (2, True, True)])
def test_panic_on_oom(mode, memcg, panics):
    oc = OomControl(page_size=4096, tasks=[T(rss_anon=5)], meminfo=MemInfo(10**6), era=E59, sysctls=VmSysctls(panic_on_oom=mode),
                    memcg=MemcgLimits("/x", 1, 10**5) if memcg else None)
    assert (out_of_memory(oc).outcome == "panic") is panics


def test_oom_group_highest_below_domain_never_root():
    groups = {"/a": True, "/a/b": True, "/a/b/c": False}
    assert mem_cgroup_get_oom_group("/a/b/c", "/a/b", groups) == "/a/b"
    assert mem_cgroup_get_oom_group("/a/b/c", None, groups) == "/a"
    assert mem_cgroup_get_oom_group("/z", None, groups) is None
    tasks = [T(pid=1, rss_anon=50, memcg="/a/b/c"), T(pid=2, rss_anon=10, memcg="/a/b"),
             T(pid=3, rss_anon=10, memcg="/a/b", oom_score_adj=-1000), T(pid=4, rss_anon=10, memcg="/q")]
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(10**6), era=E59, oom_groups=groups,
                    memcg=MemcgLimits("/a/b", 2, 10**5))
    sel = out_of_memory(oc)
    assert sel.victim.pid == 1 and sel.oom_group == "/a/b" and [t.pid for t in sel.also_killed] == [2]


# ----------------------------------------------------------------- totalpages

def test_memcg_limits_per_era():
    v1 = MemcgLimits("/x", 1, memory_max=25600, memsw_max=None, swappiness=60)
    assert mem_cgroup_get_max(v1, E59, 0, page_size=4096) == 25600
    assert mem_cgroup_get_max(v1, E59, 1000, page_size=4096) == 26600          # + min(memsw-mem, swap)
    assert mem_cgroup_get_max(v1.__class__("/x", 1, 25600, 26000, None, 60), E59, 1000, page_size=4096) == 26000
    assert mem_cgroup_get_max(v1.__class__("/x", 1, 25600, None, None, 0), E59, 1000, page_size=4096) == 25600
    v2 = MemcgLimits("/x", 2, memory_max=25600, swap_max=500)
    assert mem_cgroup_get_max(v2, E59, 1000, page_size=4096) == 26100
    assert mem_cgroup_get_max(v2, E419, 1000, page_size=4096) == 26100
    # 2.6.36-3.5: min(mem + swap, memsw), swappiness ignored
    assert mem_cgroup_get_max(v1.__class__("/x", 1, 25600, 25700, None, 0), E30, 1000, page_size=4096) == 25700


def test_constrained_alloc():
    oc = OomControl(page_size=4096, tasks=[], meminfo=MemInfo(1000, 200, node_present_pages=(600, 400)), era=E59)
    assert constrained_alloc(oc) == OomConstraint.NONE and oc.totalpages == 1200
    oc.nodemask = (1,)
    assert constrained_alloc(oc) == OomConstraint.MEMORY_POLICY and oc.totalpages == 600
    oc.nodemask, oc.cpuset_mems = None, (0,)
    assert constrained_alloc(oc) == OomConstraint.CPUSET and oc.totalpages == 800
    oc.memcg = MemcgLimits("/x", 1, 0, swappiness=0)  # limit 0, swap not counted
    assert constrained_alloc(oc) == OomConstraint.MEMCG and oc.totalpages == 1  # 0 becomes 1


def test_memcg_T_scales_adj():
    # limit 100 MiB = 25600 pages -> T//1000 = 25: adj 1000 adds 25000 pages (~98 MiB), not machine-sized
    small = T(pid=1, rss_anon=1000, oom_score_adj=1000)
    big = T(pid=2, rss_anon=20000)
    assert _pick(E59, [small, big], MemcgLimits("/x", 1, 25600)).victim.pid == 1
    assert _pick(E59, [small.with_(oom_score_adj=500), big], MemcgLimits("/x", 1, 25600)).victim.pid == 2


# ----------------------------------------------------------------- oom_adj conversions

@pytest.mark.parametrize("adj,score", [(-17, -1000), (-16, -941), (14, 823), (15, 1000), (0, 0), (-1, -58)])
def test_oom_adj_to_score_adj(adj, score):
    assert oom_adj_to_oom_score_adj(adj) == score


@pytest.mark.parametrize("score,version,adj", [
    (-1000, (6, 1, 0), -17), (1000, (6, 1, 0), 15), (942, (5, 10, 0), 16), (942, (5, 11, 0), 15),
    (-941, (6, 1, 0), -15), (500, (6, 1, 0), 8), (-1000, (3, 0, 0), -17), (500, (3, 0, 0), 7), (-500, (3, 0, 0), -7),
])
def test_score_adj_to_oom_adj(score, version, adj):
    assert oom_score_adj_to_oom_adj(score, version) == adj


# ----------------------------------------------------------------- eras table

def test_eras_cover_all_versions_without_gaps():
    for a, b in zip(ERAS, ERAS[1:]):
        assert a.last is not None and a.last < b.first
    for v, name in [("2.4.20", "<=2.6.15"), ("2.6.36", "2.6.36-3.1"), ("3.4.113", "3.2-3.4"), ("3.5", "3.5-3.13"),
                    ("4.14.300", "4.8-4.14"), ("4.15", "4.15-4.16"), ("5.8.18", "5.3-5.8"), ("6.18.44-fc", "5.9+")]:
        assert era_for(v).name == name
    assert era_by_name("5.9+") is E59


def test_unlimited_memcg_is_page_counter_max_of_the_page_size():
    # PAGE_COUNTER_MAX = LONG_MAX / PAGE_SIZE: 2**63-1 // 4096 = 2251799813685247, // 65536 = 140737488355327
    unlimited = MemcgLimits("/x", 2, memory_max=None, swap_max=0)
    assert mem_cgroup_get_max(unlimited, E59, 0, page_size=4096) == 2_251_799_813_685_247
    assert mem_cgroup_get_max(unlimited, E59, 0, page_size=65536) == 140_737_488_355_327


def test_unknown_has_no_truth_value():
    from oomlens.kernel.types import UNKNOWN

    with pytest.raises(TypeError):
        bool(UNKNOWN)
    # the model treats UNKNOWN flags as "not set" explicitly and says so
    b = badness_terms(T(rss_anon=10, oom_skip=UNKNOWN), 10**6, E59, page_size=4096)
    assert b.eligible and b.points == 10
