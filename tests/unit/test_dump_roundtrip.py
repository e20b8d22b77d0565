"""dump_tasks renders the kernel's table; the parser reads it back; the post-mortem then reaches the same
victim as the model does directly. A cross-check of three components against each other."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oomlens.analysis.postmortem import analyze_events
from oomlens.kernel.eras import era_for
from oomlens.kernel.oom_kill import OomControl, dump_tasks, out_of_memory
from oomlens.kernel.types import MemcgLimits, MemInfo, Task
from oomlens.oomreport import parse_text


def test_dump_tasks_matches_a_real_6_18_row():
    # from tests/data/oomreport/6.18-memcg-v1-smoke.log (this machine's kernel)
    real = "[   2091]     0  2091    19510    18708    17056     1652         0   204800        0             0 python3"
    t = Task(pid=2091, name="python3", uid=0, tgid=2091, total_vm=19510, rss_anon=17056, rss_file=1652,
             pgtables_bytes=204800)
    assert dump_tasks([t], (6, 18, 0), page_size=4096)[-1] == real


def test_dump_tasks_omits_init_kthreads_and_no_mm_but_lists_adj_minus_1000():
    ts = [Task(pid=1, name="init", is_global_init=True, rss_anon=5), Task(pid=2, name="kthreadd", is_kthread=True,
          has_mm=False), Task(pid=3, name="zombie", has_mm=False), Task(pid=4, name="sshd", oom_score_adj=-1000)]
    rows = dump_tasks(ts, (5, 4, 0), page_size=4096)
    assert rows[0] == "Tasks state (memory values in pages):" and len(rows) == 3 and rows[-1].endswith(" sshd")


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_ :[]0123456789", min_size=1, max_size=15).filter(
    lambda s: s.strip() == s)
task_st = st.builds(
    lambda pid, name, anon, file, shmem, swap, pt, adj: Task(pid=pid, name=name, uid=1000, rss_anon=anon,
                                                              rss_file=file, rss_shmem=shmem, swapents=swap,
                                                              pgtables_bytes=pt * 4096, oom_score_adj=adj,
                                                              total_vm=anon + file + shmem + 100),
    st.integers(2, 4_000_000), names, st.integers(0, 500_000), st.integers(0, 50_000), st.integers(0, 50_000),
    st.integers(0, 200_000), st.integers(0, 500), st.sampled_from([-1000, -999, -500, -1, 0, 1, 300, 999, 1000]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(task_st, min_size=1, max_size=12, unique_by=lambda t: t.pid),
       st.sampled_from(["6.8.0", "5.4.0", "4.19.0", "4.9.0", "3.10.0"]), st.integers(26_000, 4_000_000))
def test_report_roundtrip_agrees_with_the_model(tasks, release, limit_pages):
    version = tuple(int(x) for x in release.split("."))
    era = era_for(release)
    memcg = MemcgLimits(path="/rt", version=1, memory_max=limit_pages, swappiness=0)
    # rows of 3.6-4.14 tables carry page-table *counts*
    if version < (4, 15, 0):
        tasks = [t.with_(nr_ptes=t.pgtables_bytes // 4096, nr_pmds=0 if version >= (4, 0, 0) else None)
                 for t in tasks]
    oc = OomControl(page_size=4096, tasks=tasks, meminfo=MemInfo(8_000_000), era=era, memcg=memcg)
    sel = out_of_memory(oc)
    lines = ["alloc invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
             f"CPU: 0 PID: 1 Comm: alloc Not tainted {release}-generic #1",
             f"memory: usage {limit_pages * 4}kB, limit {limit_pages * 4}kB, failcnt 1",
             "memory+swap: usage 0kB, limit 9007199254740988kB, failcnt 0",
             "Memory cgroup stats for /rt:"]
    lines += dump_tasks(tasks, version, page_size=4096)
    if sel.victim is None:
        lines.append("Out of memory and no killable processes...")
    else:
        v = sel.victim
        if version < (5, 1, 0):
            score = sel.chosen_points * 1000 // oc.totalpages
            lines.append(f"Memory cgroup out of memory: Kill process {v.pid} ({v.name}) score {score} or sacrifice child")
        if version >= (5, 0, 0):
            lines.append(f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                         f"oom_memcg=/rt,task_memcg=/rt,task={v.name},pid={v.pid},uid=1000")
        lines.append(f"Memory cgroup out of memory: Killed process {v.pid} ({v.name}) total-vm:4kB, anon-rss:4kB, "
                     "file-rss:0kB, shmem-rss:0kB" + (", UID:1000 pgtables:4kB oom_score_adj:0" if version >= (5, 4, 0) else ""))
    text = "\n".join(f"[{1000 + i / 1e4:12.6f}] {ln}" for i, ln in enumerate(lines)) + "\n"
    events = parse_text(text)
    assert len(events) == 1
    ev = events[0]
    parsed = {r.pid: r for r in ev.table.rows}
    assert set(parsed) == {t.pid for t in tasks}
    for t in tasks:
        r = parsed[t.pid]
        assert (r.name, r.oom_score_adj, r.swapents) == (t.name, t.oom_score_adj, t.swapents)
        assert r.rss == t.rss
    (a,) = list(analyze_events(events))
    d = a.to_dict()
    assert d["totalpages"] == limit_pages
    if sel.victim is None:
        assert d["verdict"] == "undecidable"
    else:
        assert d["verdict"] == "agrees", (d["reason"], d["notes"])
        assert d["model_victim"]["pid"] == sel.victim.pid
