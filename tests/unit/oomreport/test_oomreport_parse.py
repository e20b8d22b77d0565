"""One test per printing kernel function and per format era (spec 6)."""

from __future__ import annotations

import pytest

from oomlens.oomreport import (
    KillLine,
    SelectionLine,
    parse_dump_header,
    parse_dump_stack_print_info,
    parse_dump_tasks,
    parse_dump_tasks_header,
    parse_dump_tasks_row,
    parse_mem_cgroup_print_oom_info,
    parse_oom_kill_process,
    parse_oom_reaper,
    parse_oom_summary,
    parse_show_mem,
)
from oomlens.oomreport.parse import Kind, classify, frame_function, table_variant


@pytest.mark.parametrize("line,comm,gfp,order,adj,oom_adj,nodemask,variant", [
    ("oom-killer: gfp_mask=0xd0", None, 0xD0, None, None, None, None, "2.6.11"),
    ("amarok invoked oom-killer: gfp_mask=0x1201d2, order=0, oomkilladj=0", "amarok", 0x1201D2, 0,
     None, 0, None, "2.6.19-2.6.30"),
    ("java invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=-16", "java", 0x201DA, 0, None,
     -16, None, "2.6.31-2.6.35"),
    ("java invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=-941", "java",
     0x201DA, 0, -941, 0, None, "2.6.36-3.6"),
    ("sed invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0", "sed", 0x201DA, 0, 0, None,
     None, "3.7-4.4"),
    ("doxygen invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), "
     "order=0, oom_score_adj=0", "doxygen", 0x140DCA, 0, 0, None, None, "4.5+"),
    ("a invoked oom-killer: gfp_mask=0x14200ca(GFP_HIGHUSER_MOVABLE), nodemask=0-1,3, order=2, "
     "oom_score_adj=300", "a", 0x14200CA, 2, 300, None, "0-1,3", "4.9-4.19"),
    ("a b invoked oom-killer: gfp_mask=0x14200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null),  order=0, "
     "oom_score_adj=0", "a b", 0x14200CA, 0, 0, None, "(null)", "4.10-4.16"),
    ("kworker/0:2 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0",
     "kworker/0:2", 0xCC0, -1, 0, None, None, "4.5+"),
    ("runc:[2:INIT] invoked oom-killer: gfp_mask=0x500cc2(GFP_HIGHUSER|__GFP_ACCOUNT), order=0, "
     "oom_score_adj=-998", "runc:[2:INIT]", 0x500CC2, 0, -998, None, None, "4.5+"),
])
def test_parse_dump_header(line, comm, gfp, order, adj, oom_adj, nodemask, variant) -> None:
    inv = parse_dump_header(line, 7)
    assert inv is not None
    assert (inv.comm, inv.gfp_mask, inv.order, inv.oom_score_adj, inv.oom_adj, inv.nodemask,
            inv.variant, inv.lineno) == (comm, gfp, order, adj, oom_adj, nodemask, variant, 7)


@pytest.mark.parametrize("line", ["invoked oom-killer", "Start for oom-killer",
                                  "x invoked oom-killer: gfp_mask=zz", "oom-killer: gfp_mask"])
def test_parse_dump_header_rejects(line: str) -> None:
    assert parse_dump_header(line) is None


@pytest.mark.parametrize("line,pid,comm,uid,release", [
    ("CPU: 0 PID: 1532 Comm: badsysprogram Not tainted 3.13.0-27-generic #50-Ubuntu", 1532,
     "badsysprogram", None, "3.13.0-27-generic"),
    ("CPU: 5 PID: 13536 Comm: memorymonster Tainted: P           OX 3.13.0-43-generic #72-Ubuntu",
     13536, "memorymonster", None, "3.13.0-43-generic"),
    ("CPU: 1 UID: 0 PID: 116 Comm: stress-ng-vm Not tainted 6.11.0-10669-g11a299a7933e-dirty #15", 116,
     "stress-ng-vm", 0, "6.11.0-10669-g11a299a7933e-dirty"),
    ("CPU: 8 PID: 8291 Comm: runc:[2:INIT] Tainted: G        W I E     5.8.2-0.g71b519a-default #1 "
     "openSUSE Tumbleweed (unreleased)", 8291, "runc:[2:INIT]", None, "5.8.2-0.g71b519a-default"),
    ("CPU: 2 PID: 77 Comm: Web Content Kdump: loaded Not tainted 4.18.0-348.el8.x86_64 #1", 77,
     "Web Content", None, "4.18.0-348.el8.x86_64"),
    ("Pid: 3794, comm: java Not tainted 2.6.32-642.11.1.el6.x86_64 #1", 3794, "java", None,
     "2.6.32-642.11.1.el6.x86_64"),
    ("Pid: 7093, comm: amarok Tainted: P           2.6.28-11-generic #42-Ubuntu", 7093, "amarok", None,
     "2.6.28-11-generic"),
    ("CPU: 1 UID: 0 PID: 2093 Comm: python3 Not tainted 6.18.44-fc-v657 #1 PREEMPT(none) ", 2093,
     "python3", 0, "6.18.44-fc-v657"),
])
def test_parse_dump_stack_print_info(line, pid, comm, uid, release) -> None:
    c = parse_dump_stack_print_info(line)
    assert c is not None and (c.pid, c.comm, c.uid, c.release) == (pid, comm, uid, release)


HEADERS = {
    "2.6.25": "[ pid ]   uid  tgid total_vm      rss cpu oom_adj name",
    "2.6.36": "[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name",
    "3.6": "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
    "4.0": "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
    "4.0+nr_puds": "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds nr_puds swapents "
                   "oom_score_adj name",
    "4.15": "[ pid ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    "4.19": "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    "6.8": "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes "
           "swapents oom_score_adj name",
}
ROWS = {
    "2.6.25": "[ 2346]  1000  2345   210000   198000   1       0 firefox",
    "2.6.36": "[  549]     0   549     2662      118   1     -17         -1000 udevd",
    "3.6": "[13536] 275858 13536  8389663      343   16267  8324326             0 memorymonster",
    "4.0": "[ 4358]  1000  4358  2853387  1773446    5578      13  1074744             0 bash",
    "4.0+nr_puds": "[ 4321] 10102  4321  1300000   420000     901       5       3   121000           "
                   "900 com.android.chrome",
    "4.15": "[ 3003]  1000  3003  2100000  1900000 15212544        0             0 node",
    "4.19": "[1833435]  1000 1833435   702110   845000  6553600    90012           100 Web Content",
    "6.8": "[    116]     0   116  2628942  1995298  1995157      141         0 16052224        0"
           "          1000 stress-ng-vm",
}
EXPECT = {  # field -> value, the rest must be None
    "2.6.25": dict(pid=2346, uid=1000, tgid=2345, total_vm=210000, rss=198000, cpu=1, oom_adj=0,
                   name="firefox"),
    "2.6.36": dict(pid=549, uid=0, tgid=549, total_vm=2662, rss=118, cpu=1, oom_adj=-17,
                   oom_score_adj=-1000, name="udevd"),
    "3.6": dict(pid=13536, uid=275858, tgid=13536, total_vm=8389663, rss=343, nr_ptes=16267,
                swapents=8324326, oom_score_adj=0, name="memorymonster"),
    "4.0": dict(pid=4358, uid=1000, tgid=4358, total_vm=2853387, rss=1773446, nr_ptes=5578,
                nr_pmds=13, swapents=1074744, oom_score_adj=0, name="bash"),
    "4.0+nr_puds": dict(pid=4321, uid=10102, tgid=4321, total_vm=1300000, rss=420000, nr_ptes=901,
                        nr_pmds=5, nr_puds=3, swapents=121000, oom_score_adj=900,
                        name="com.android.chrome"),
    "4.15": dict(pid=3003, uid=1000, tgid=3003, total_vm=2100000, rss=1900000,
                 pgtables_bytes=15212544, swapents=0, oom_score_adj=0, name="node"),
    "4.19": dict(pid=1833435, uid=1000, tgid=1833435, total_vm=702110, rss=845000,
                 pgtables_bytes=6553600, swapents=90012, oom_score_adj=100, name="Web Content"),
    "6.8": dict(pid=116, uid=0, tgid=116, total_vm=2628942, rss=1995298, rss_anon=1995157,
                rss_file=141, rss_shmem=0, pgtables_bytes=16052224, swapents=0,
                oom_score_adj=1000, name="stress-ng-vm"),
}
ALL_FIELDS = ("uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "nr_ptes",
              "nr_pmds", "nr_puds", "pgtables_bytes", "swapents", "cpu", "oom_adj", "oom_score_adj")


@pytest.mark.parametrize("variant", list(HEADERS))
def test_dump_tasks_every_header_variant(variant: str) -> None:
    cols = parse_dump_tasks_header(HEADERS[variant])
    assert cols is not None and cols[0] == "pid" and cols[-1] == "name"
    assert table_variant(cols, tasks_state_line=False,
                         wide_brackets=HEADERS[variant].startswith("[  pid  ]")) == variant
    row = parse_dump_tasks_row(ROWS[variant], cols, 3)
    assert row is not None and row.lineno == 3
    want = EXPECT[variant]
    for f in ALL_FIELDS:
        assert getattr(row, f) == want.get(f), f
    assert (row.pid, row.name) == (want["pid"], want["name"])


def test_dump_tasks_maps_columns_by_name_not_position() -> None:
    cols = parse_dump_tasks_header("[ pid ]   uid  tgid total_vm      rss swapents nr_ptes "
                                   "oom_score_adj name")
    row = parse_dump_tasks_row("[ 10]  1  10  100  50  7  3  -5 x", cols)
    assert (row.swapents, row.nr_ptes, row.oom_score_adj) == (7, 3, -5)


@pytest.mark.parametrize("name", ["Web Content", "runc:[2:INIT]", "(sd-pam)", "a  b", "[x]", "1 2",
                                  "kworker/u8:2", "Privileged Cont", ""])
def test_dump_tasks_names_are_the_rest_of_the_line(name: str) -> None:
    cols = parse_dump_tasks_header(HEADERS["4.19"])
    row = parse_dump_tasks_row(f"[  40180]  1001 40180  1264812   512230  4968448   130211    "
                               f"       937 {name}", cols)
    assert row is not None and row.name == name.strip() and row.pid == 40180


def test_dump_tasks_row_that_does_not_fit_its_header_is_rejected() -> None:
    cols = parse_dump_tasks_header(HEADERS["6.8"])
    assert parse_dump_tasks_row(ROWS["4.19"].replace("Web Content", "x"), cols) is None
    assert parse_dump_tasks_row("[ 12]  1 2 three 4 5 6 7 8 9 10 x", cols) is None


def test_dump_tasks_headerless_rows_map_only_the_common_columns() -> None:
    row = parse_dump_tasks_row(ROWS["4.0"], None)
    assert (row.pid, row.uid, row.tgid, row.total_vm, row.rss) == (4358, 1000, 4358, 2853387, 1773446)
    assert row.swapents is None and row.name == "bash"


@pytest.mark.parametrize("line", ["[ pid ]   uid  tgid total_vm      rss whatever name",
                                  "[ pid ]   uid  tgid", "[UFW BLOCK] IN=eth0", "[ pid ] name name"])
def test_dump_tasks_header_rejects(line: str) -> None:
    assert parse_dump_tasks_header(line) is None


def test_parse_dump_tasks_whole_table() -> None:
    t = parse_dump_tasks(["Tasks state (memory values in pages):", HEADERS["4.19"], ROWS["4.19"],
                          "[  40100] 65535 40100      243        1    28672        0          -998 pause"])
    assert t is not None and t.variant == "4.19" and t.tasks_state_line and len(t.rows) == 2
    assert t.rows[1].oom_score_adj == -998 and not t.truncated


SUMMARY_G = ("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
             "task_memcg=/user.slice/user-504.slice/session-2.scope,task=doxygen,pid=473206,uid=504")


def test_parse_oom_summary_global() -> None:
    s = parse_oom_summary(SUMMARY_G, 9)
    assert s is not None and (s.constraint, s.nodemask, s.cpuset, s.mems_allowed, s.global_oom,
                              s.oom_memcg, s.task_memcg, s.task, s.pid, s.uid, s.lineno) == (
        "CONSTRAINT_NONE", "(null)", "/", "0", True, None,
        "/user.slice/user-504.slice/session-2.scope", "doxygen", 473206, 504, 9)


def test_parse_oom_summary_commas_in_values_and_no_cpusets() -> None:
    s = parse_oom_summary("oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=0-1,3,cpuset=a,b,"
                          "mems_allowed=0-3,5,global_oom,task_memcg=/,task=x,y,pid=12,uid=0")
    assert (s.nodemask, s.cpuset, s.mems_allowed, s.task, s.pid) == ("0-1,3", "a,b", "0-3,5", "x,y", 12)
    s = parse_oom_summary("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/a,"
                          "task_memcg=/a/b,task=t,pid=1,uid=2")
    assert (s.cpuset, s.oom_memcg, s.task_memcg, s.global_oom) == (None, "/a", "/a/b", False)


def test_parse_oom_summary_first_half_of_a_split_line() -> None:
    s = parse_oom_summary("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0")
    assert s is not None and s.pid is None and s.task is None
    assert classify(",oom_memcg=/test,task_memcg=/test,task=stress,pid=2001,uid=0")[0] == Kind.SUMMARY_CONT


@pytest.mark.parametrize("line,pid,name,score,kind,wording", [
    ("Out of memory: Kill process 1532 (badsysprogram) score 919 or sacrifice child", 1532,
     "badsysprogram", 919, "global", "or sacrifice child"),
    ("Memory cgroup out of memory: Kill process 76756 (java) score 1001 or sacrifice child", 76756,
     "java", 1001, "memcg", "or sacrifice child"),
    ("Out of memory (oom_kill_allocating_task): Kill process 5120 (loader) score 0 or sacrifice child",
     5120, "loader", 0, "allocating_task", "or sacrifice child"),
    ("Out of memory: kill process 2345 (firefox) score 420000 or a child", 2345, "firefox", 420000,
     "global", "or a child"),
    ("Out of Memory: Kill process 99 (a (b) c) score 7 and children.", 99, "a (b) c", 7, "legacy",
     "and children"),
])
def test_parse_oom_kill_process_selection(line, pid, name, score, kind, wording) -> None:
    s = parse_oom_kill_process(line, 4)
    assert isinstance(s, SelectionLine)
    assert (s.pid, s.name, s.score, s.kind, s.wording, s.lineno) == (pid, name, score, kind, wording, 4)


KILLS = [
    ("Out of Memory: Killed process 10072 (tar).", "2.4", "legacy", 10072, "tar", None, None),
    ("Killed process 2345 (firefox)", "bare", "none", 2345, "firefox", None, None),
    ("Killed process 3003 (java) vsz:1685284kB, anon-rss:1200000kB, file-rss:120kB", "vsz", "none",
     3003, "java", None, 1685284),
    ("Killed process 31995, UID 500, (java) total-vm:7977568kB, anon-rss:3558396kB, file-rss:104kB",
     "rhel6", "none", 31995, "java", 500, 7977568),
    ("Killed process 1532 (badsysprogram) total-vm:1641388kB, anon-rss:1595164kB, file-rss:76kB",
     "2.6.36", "none", 1532, "badsysprogram", None, 1641388),
    ("Killed process 6576 (mysqld) total-vm:33914892kB, anon-rss:20629004kB, file-rss:0kB, "
     "shmem-rss:0kB", "4.5", "none", 6576, "mysqld", None, 33914892),
    ("Out of memory: Killed process 9 (x) total-vm:1kB, anon-rss:2kB, file-rss:3kB, shmem-rss:4kB, "
     "UID:1000", "5.3", "global", 9, "x", 1000, 1),
    ("Memory cgroup out of memory: Killed process 3974 (apk) total-vm:20600kB, anon-rss:7508kB, "
     "file-rss:588kB, shmem-rss:0kB, UID:0 pgtables:80kB oom_score_adj:0", "5.4", "memcg", 3974, "apk",
     0, 20600),
    ("Out of memory (oom_kill_allocating_task): Killed process 5 (a) b) total-vm:1kB, anon-rss:1kB, "
     "file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:-998", "5.4", "allocating_task", 5,
     "a) b", 0, 1),
]


@pytest.mark.parametrize("line,variant,kind,pid,name,uid,vm", KILLS)
def test_parse_oom_kill_process_kill_lines(line, variant, kind, pid, name, uid, vm) -> None:
    k = parse_oom_kill_process(line)
    assert isinstance(k, KillLine)
    assert (k.variant, k.kind, k.pid, k.name, k.uid, k.total_vm_kb) == (variant, kind, pid, name, uid, vm)


def test_parse_oom_kill_process_5_4_fields() -> None:
    k = parse_oom_kill_process(KILLS[7][0])
    assert (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb, k.pgtables_kb, k.oom_score_adj) == (
        7508, 588, 0, 80, 0)
    assert parse_oom_kill_process(KILLS[8][0]).oom_score_adj == -998


@pytest.mark.parametrize("line,want", [
    ("Kill process 3781 (rcu-stall) sharing same memory", ("sharing", 3781, "rcu-stall")),
    ("oom killer 1500 (vfork-test) has mm pinned by 1 (init)", ("pinned", 1500, "vfork-test", 1, "init")),
    ("Memory cgroup out of memory: OOM victim 7712 (worker) is already exiting. Skip killing the task",
     ("exiting", 7712, "worker", "memcg")),
    ("Tasks in /batch.slice/job 42.service are going to be killed due to memory.oom.group set",
     ("oom_group", "/batch.slice/job 42.service")),
])
def test_parse_oom_kill_process_other_lines(line, want) -> None:
    assert parse_oom_kill_process(line) == want


@pytest.mark.parametrize("line", ["Out of Memory: Killed process 11300", "Killed process x (y)",
                                  "systemd: Killing process 4 (bash) with signal SIGKILL.",
                                  "Killed process 28812 (python) reported by cAdvisor"])
def test_parse_oom_kill_process_rejects(line: str) -> None:
    assert parse_oom_kill_process(line) is None


def test_parse_oom_reaper() -> None:
    r = parse_oom_reaper("oom_reaper: reaped process 8291 (runc:[2:INIT]), now anon-rss:0kB, "
                         "file-rss:8564kB, shmem-rss:4kB", 3)
    assert (r.pid, r.name, r.reaped, r.anon_rss_kb, r.file_rss_kb, r.shmem_rss_kb, r.lineno) == (
        8291, "runc:[2:INIT]", True, 0, 8564, 4, 3)
    u = parse_oom_reaper("oom_reaper: unable to reap pid:4242 (java)")
    assert (u.pid, u.name, u.reaped, u.anon_rss_kb) == (4242, "java", False, None)
    assert parse_oom_reaper("oom_reaper: something else") is None


def test_parse_mem_cgroup_print_oom_info() -> None:
    assert parse_mem_cgroup_print_oom_info(
        "Task in /docker/a b killed as a result of limit of /docker") == ("task_in", "/docker/a b",
                                                                          "/docker")
    assert parse_mem_cgroup_print_oom_info("memory+swap: usage 0kB, limit 9007199254740988kB, "
                                           "failcnt 0") == ("usage", "memory+swap", 0,
                                                            9007199254740988, 0)
    assert parse_mem_cgroup_print_oom_info("swap: usage 8192kB, limit 8192kB, failcnt 1832")[1] == "swap"
    assert parse_mem_cgroup_print_oom_info("Memory cgroup stats for /x:") == ("stats", "/x", ())
    st = parse_mem_cgroup_print_oom_info("Memory cgroup stats for /mem2: cache:0KB rss:980KB")
    assert st == ("stats", "/mem2", (("cache", 0), ("rss", 980)))


@pytest.mark.parametrize("line,want", [
    ("Mem-Info:", ("header",)), ("Mem-info:", ("header",)),
    ("445340 pages RAM", ("pages", "RAM", 445340)), ("10614 pages reserved", ("pages", "reserved", 10614)),
    ("229376 pages of RAM", ("pages", "RAM", 229376)), ("3942 reserved pages", ("pages", "reserved", 3942)),
    ("232178 pages HighMem", ("pages", "HighMem", 232178)),
    ("Total swap = 25165820kB", ("swap_kb", "Total", 25165820)),
    ("Free swap  = 84kB", ("swap_kb", "Free", 84)), ("Free swap:       0kB", ("swap_kb", "Free", 0)),
    ("44659 total pagecache pages", ("pagecache", 44659)),
    ("Node 0 DMA: 0*4kB 0*8kB 1*1024kB (U) = 13312kB", ("buddy", 4)),
    ("CPU    0: hi:  186, btch:  31 usd:  86", ("misc",)),
    ("lowmem_reserve[]: 0 3191 15659 15659 15659", ("misc",)),
])
def test_parse_show_mem(line, want) -> None:
    assert parse_show_mem(line) == want


def test_parse_show_mem_zone() -> None:
    z = parse_show_mem("Node 4 Movable free:130021408kB min:9140kB low:139160kB high:269180kB "
                       "present:130023424kB managed:130023424kB mlocked:0kB")[1]
    assert (z.node, z.zone, z.free_kb, z.present_kb, z.managed_kb) == (4, "Movable", 130021408,
                                                                       130023424, 130023424)
    old = parse_show_mem("DMA free:7096kB min:64kB low:80kB high:96kB present:15804kB")[1]
    assert (old.node, old.zone, old.present_kb, old.managed_kb) == (None, "DMA", 15804, None)


@pytest.mark.parametrize("line,fn", [
    (" [<ffffffff8118476e>] oom_kill_process+0x24e/0x3c0", "oom_kill_process"),
    ("[<ffffffff811318a2>] ? oom_kill_process+0x82/0x2a0", "oom_kill_process"),
    ("oom_kill_process.cold+0xb/0x10", "oom_kill_process"),
    ("out_of_memory.part.0+0xce/0x270", "out_of_memory"),
    ("? sched_clock_cpu+0x10/0x190", "sched_clock_cpu"),
    ("ext4_filemap_fault+0x36/0x50 [ext4]", "ext4_filemap_fault"),
    ("[<c0012345>] (oom_kill_process+0x10/0x14) from [<c0012346>] (out_of_memory+0x1/0x2)",
     "oom_kill_process"),
    ("Call Trace:", None), ("Mem-Info:", None),
])
def test_frame_function(line, fn) -> None:
    assert frame_function(line.strip()) == fn


@pytest.mark.parametrize("line,kind", [
    ("sysrq: Manual OOM execution", Kind.SYSRQ), ("SysRq : Manual OOM execution", Kind.SYSRQ),
    ("Out of memory and no killable processes...", Kind.NO_KILLABLE),
    ("Kernel panic - not syncing: System is deadlocked on memory", Kind.PANIC),
    ("Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled", Kind.PANIC),
    ("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009", Kind.NOISE),
    ("oom_kill_process: 7 callbacks suppressed", Kind.RATELIMIT),
    ("kauditd_printk_skb: 3 callbacks suppressed", Kind.NOISE),
    ("--", Kind.GREP_SEP), ("Workqueue: events moom_callback", Kind.TRACE),
    ("Tasks state (memory values in pages):", Kind.TASKS_STATE),
    ("anon 7688192", Kind.MEMCG_KV), ("active_anon:1 inactive_anon:2 isolated_anon:0", Kind.VMSTAT),
    ("R13: 0000000000000000 R14: 0000000000001000", Kind.TRACE),
    ("Out of Memory: Killed process 11300", Kind.PARTIAL),
    ("usb 1-1: new high-speed USB device number 3 using xhci_hcd", Kind.NOISE),
])
def test_classify(line: str, kind: str) -> None:
    assert classify(line)[0] == kind
