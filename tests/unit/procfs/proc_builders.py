"""Builders for fake /proc and cgroupfs trees, written the way the kernel formats them (6.18).

``make_proc(tmp_path, tasks=[FakeTask(...), ...])`` returns the root of a minimal, valid procfs
tree; ``make_cgroup_v1`` / ``make_cgroup_v2`` build cgroupfs trees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

INIT_PID_NS = "pid:[4026531836]"
OTHER_PID_NS = "pid:[4026532999]"


@dataclass
class FakeTask:
    """One fake process. Memory in kB like /proc prints it; ``has_mm=False`` omits the Vm*/Rss* lines."""

    pid: int
    name: str = "task"
    comm: str | bytes | None = None  # stat's comm; defaults to name
    state: str = "S"
    ppid: int = 1
    uid: int = 1000
    tgid: int | None = None
    nspid: tuple[int, ...] | None = None
    kthread: bool | None = False  # None: no Kthread: line (kernels before it existed)
    has_mm: bool = True
    rss_anon_kb: int = 4096
    rss_file_kb: int = 1024
    rss_shmem_kb: int = 0
    swap_kb: int = 0
    pte_kb: int = 48
    vmsize_kb: int = 10240
    rss_split: bool = True  # False: no RssAnon/RssFile/RssShmem lines (before 4.5)
    threads: int = 1
    capeff: int = 0
    adj: int = 0
    oom_score: int = 666
    flags: int = 0x00400000
    utime: int = 7
    stime: int = 3
    nice: int = 0
    starttime: int = 1000
    cgroup: str = "0::/\n"
    extra_status: dict[str, str] = field(default_factory=dict)
    thread_status: dict[int, bytes] = field(default_factory=dict)


def escape_name(name: str | bytes) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def status_bytes(t: FakeTask) -> bytes:
    kb = lambda v: f"{v:8d} kB"
    lines = [b"Name:\t" + escape_name(t.name)]
    add = lambda k, v: lines.append(f"{k}:\t{v}".encode())
    add("Umask", "0022")
    add("State", {"S": "S (sleeping)", "R": "R (running)", "Z": "Z (zombie)", "I": "I (idle)",
                  "D": "D (disk sleep)"}.get(t.state, t.state))
    add("Tgid", t.tgid if t.tgid is not None else t.pid)
    add("Ngid", 0)
    add("Pid", t.pid)
    add("PPid", t.ppid)
    add("TracerPid", 0)
    add("Uid", f"{t.uid}\t{t.uid}\t{t.uid}\t{t.uid}")
    add("Gid", "0\t0\t0\t0")
    add("FDSize", 64)
    add("Groups", " ")
    nspid = t.nspid if t.nspid is not None else (t.pid,)
    add("NStgid", "\t".join(map(str, nspid)))
    add("NSpid", "\t".join(map(str, nspid)))
    add("NSpgid", nspid[0])
    add("NSsid", nspid[0])
    if t.kthread is not None:
        add("Kthread", 1 if t.kthread else 0)
    if t.has_mm:
        add("VmPeak", kb(t.vmsize_kb))
        add("VmSize", kb(t.vmsize_kb))
        add("VmLck", kb(0))
        add("VmPin", kb(0))
        add("VmHWM", kb(t.rss_anon_kb + t.rss_file_kb + t.rss_shmem_kb))
        add("VmRSS", kb(t.rss_anon_kb + t.rss_file_kb + t.rss_shmem_kb))
        if t.rss_split:
            add("RssAnon", kb(t.rss_anon_kb))
            add("RssFile", kb(t.rss_file_kb))
            add("RssShmem", kb(t.rss_shmem_kb))
        add("VmData", kb(1000))
        add("VmStk", kb(132))
        add("VmExe", kb(20))
        add("VmLib", kb(1528))
        add("VmPTE", kb(t.pte_kb))
        add("VmSwap", kb(t.swap_kb))
        add("HugetlbPages", kb(0))
    add("CoreDumping", 0)
    add("THP_enabled", 1)
    add("Threads", t.threads)
    add("SigQ", "0/96365")
    for k in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"):
        add(k, "0000000000000000")
    add("CapInh", "0000000000000000")
    add("CapPrm", f"{t.capeff:016x}")
    add("CapEff", f"{t.capeff:016x}")
    add("CapBnd", "000001ffffffffff")
    add("CapAmb", "0000000000000000")
    add("NoNewPrivs", 0)
    add("Seccomp", 0)
    add("Cpus_allowed", 3)
    add("Cpus_allowed_list", "0-1")
    add("Mems_allowed", ",".join(["00000000"] * 31 + ["00000001"]))
    add("Mems_allowed_list", 0)
    for k, v in t.extra_status.items():
        add(k, v)
    add("voluntary_ctxt_switches", 5)
    add("nonvoluntary_ctxt_switches", 1)
    return b"\n".join(lines) + b"\n"


def stat_bytes(t: FakeTask) -> bytes:
    comm = t.comm if t.comm is not None else t.name
    raw = comm.encode() if isinstance(comm, str) else comm
    rss_pages = (t.rss_anon_kb + t.rss_file_kb + t.rss_shmem_kb) // 4 if t.has_mm else 0
    fields = [t.state, t.ppid, t.pid, t.pid, 0, -1, t.flags, 97, 0, 0, 0, t.utime, t.stime, 0, 0, 20, t.nice,
              t.threads, 0, t.starttime, t.vmsize_kb * 1024 if t.has_mm else 0, rss_pages,
              18446744073709551615] + [0] * 29
    return f"{t.pid} (".encode() + raw + b") " + " ".join(map(str, fields)).encode() + b"\n"


MEMINFO = """MemTotal:       24684092 kB
MemFree:        24379720 kB
MemAvailable:   24384936 kB
Buffers:            4284 kB
Cached:           202112 kB
SwapCached:            0 kB
SwapTotal:       2097152 kB
SwapFree:        2097152 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

ZONEINFO = """Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 1
  pages free     3840
        boost    0
        spanned  4095
        present  3998
        managed  3840
Node 0, zone    DMA32
  pages free     772917
        spanned  1044480
        present  782336
        managed  772917
Node 1, zone   Normal
  pages free     196608
        spanned  5505024
        present  5505024
        managed  196608
"""


def make_proc(tmp_path: Path, tasks: list[FakeTask] = (), *, meminfo: str = MEMINFO,  # type: ignore[assignment]
              zoneinfo: str | None = ZONEINFO, sysctls: dict[str, int] | None = None, release: str = "6.18.44-test",
              hostname: str = "fakehost", page_size: int | None = 4096, init_ns: str | None = INIT_PID_NS,
              forks: int = 500, pid_max: int = 32768, last_pid: int | None = None, uptime: str = "518.19 951.97",
              name: str = "proc") -> Path:
    """A fake procfs root under ``tmp_path/name``. ``init_ns`` is where ``1/ns/pid`` points (None: no link)."""
    root = tmp_path / name
    root.mkdir()
    (root / "meminfo").write_text(meminfo)
    if zoneinfo is not None:
        (root / "zoneinfo").write_text(zoneinfo)
    (root / "uptime").write_text(uptime + "\n")
    (root / "stat").write_text(f"cpu  1 2 3 4\nbtime 1795709223\nprocesses {forks}\nprocs_running 1\n")
    (root / "sys" / "vm").mkdir(parents=True)
    (root / "sys" / "kernel").mkdir(parents=True)
    vm = {"panic_on_oom": 0, "oom_kill_allocating_task": 0, "oom_dump_tasks": 1, "swappiness": 60}
    vm.update(sysctls or {})
    for k, v in vm.items():
        (root / "sys" / "vm" / k).write_text(f"{v}\n")
    (root / "sys" / "kernel" / "osrelease").write_text(release + "\n")
    (root / "sys" / "kernel" / "hostname").write_text(hostname + "\n")
    (root / "sys" / "kernel" / "pid_max").write_text(f"{pid_max}\n")
    pids = [t.pid for t in tasks]
    (root / "sys" / "kernel" / "ns_last_pid").write_text(f"{last_pid if last_pid is not None else max(pids or [1])}\n")
    if page_size is not None:
        (root / "meta.json").write_text(json.dumps({"page_size": page_size, "clk_tck": 100}))
    for t in tasks:
        add_task(root, t, init_ns=init_ns)
    return root


def add_task(root: Path, t: FakeTask, *, init_ns: str | None = INIT_PID_NS) -> Path:
    d = root / str(t.pid)
    d.mkdir()
    (d / "status").write_bytes(status_bytes(t))
    (d / "stat").write_bytes(stat_bytes(t))
    (d / "oom_score_adj").write_text(f"{t.adj}\n")
    (d / "oom_score").write_text(f"{t.oom_score}\n")
    (d / "cgroup").write_text(t.cgroup)
    (d / "ns").mkdir()
    if t.pid == 1 and init_ns is not None:
        os.symlink(init_ns, d / "ns" / "pid")
    if t.thread_status:
        (d / "task").mkdir()
        (d / "task" / str(t.pid)).mkdir()
        (d / "task" / str(t.pid) / "status").write_bytes(status_bytes(t))
        for tid, data in t.thread_status.items():
            (d / "task" / str(tid)).mkdir()
            (d / "task" / str(tid) / "status").write_bytes(data)
    return d


# --- cgroupfs -----------------------------------------------------------------------------------

V1_UNLIMITED = "9223372036854771712"


def make_cgroup_v1(tmp_path: Path, groups: dict[str, dict[str, object]], *, name: str = "cgroup") -> Path:
    """Hybrid layout: ``root/memory`` (v1 memory), ``root/cpu`` (v1, no memory), ``root/unified`` (cgroup2
    without the memory controller). ``groups`` maps a cgroup path ("/" included implicitly) to
    {"limit": bytes|None, "memsw": bytes|None|"absent", "swappiness": int, "usage": bytes,
    "procs": [pids], "oom_kill_disable": 0|1}. Groups are created in the order given."""
    root = tmp_path / name
    mem = root / "memory"
    cpu = root / "cpu"
    uni = root / "unified"
    for d in (mem, cpu, uni):
        d.mkdir(parents=True)
    (cpu / "cgroup.procs").write_text("")
    (cpu / "cpu.shares").write_text("1024\n")
    (cpu / "other").mkdir()
    (cpu / "other" / "cgroup.procs").write_text("")
    (uni / "cgroup.controllers").write_text("hugetlb\n")
    (uni / "cgroup.procs").write_text("")
    (uni / "memory.pressure").write_text("some avg10=0.00\n")
    (uni / "v2only").mkdir()
    (uni / "v2only" / "cgroup.controllers").write_text("\n")
    (uni / "v2only" / "cgroup.procs").write_text("")
    all_groups = {"/": {}} | groups
    for path, spec in all_groups.items():
        d = mem if path == "/" else mem / path.strip("/")
        d.mkdir(parents=True, exist_ok=True)
        limit = spec.get("limit")
        (d / "memory.limit_in_bytes").write_text(f"{limit if limit is not None else V1_UNLIMITED}\n")
        memsw = spec.get("memsw")
        if memsw != "absent":
            (d / "memory.memsw.limit_in_bytes").write_text(f"{memsw if memsw is not None else V1_UNLIMITED}\n")
        (d / "memory.swappiness").write_text(f"{spec.get('swappiness', 60)}\n")
        (d / "memory.usage_in_bytes").write_text(f"{spec.get('usage', 0)}\n")
        (d / "memory.oom_control").write_text(
            f"oom_kill_disable {spec.get('oom_kill_disable', 0)}\nunder_oom 0\noom_kill 0\n")
        (d / "memory.use_hierarchy").write_text("1\n")
        (d / "cgroup.procs").write_text("".join(f"{p}\n" for p in sorted(spec.get("procs", []))))  # type: ignore[attr-defined]
    return root


def make_cgroup_v2(tmp_path: Path, groups: dict[str, dict[str, object]], *, name: str = "cgroup2",
                   root_controllers: str = "cpuset cpu io memory hugetlb pids") -> Path:
    """Pure cgroup2 at the root. ``groups``: path -> {"max": bytes|"max", "swap": bytes|"max"|"absent",
    "oom_group": 0|1, "current": bytes, "procs": [pids] (kept in the given order), "memory": bool
    (controller enabled, default True)}. Groups are created in the order given."""
    root = tmp_path / name
    root.mkdir()
    (root / "cgroup.controllers").write_text(root_controllers + "\n")
    (root / "cgroup.subtree_control").write_text("memory pids\n")
    (root / "memory.stat").write_text("anon 0\n")
    (root / "memory.pressure").write_text("some avg10=0.00\n")
    all_groups = {"/": {}} | groups
    for path, spec in all_groups.items():
        d = root if path == "/" else root / path.strip("/")
        d.mkdir(parents=True, exist_ok=True)
        (d / "cgroup.procs").write_text("".join(f"{p}\n" for p in spec.get("procs", [])))  # type: ignore[attr-defined]
        if path == "/":
            continue
        if not spec.get("memory", True):
            (d / "cgroup.controllers").write_text("pids\n")
            (d / "memory.pressure").write_text("some avg10=0.00\n")
            continue
        (d / "cgroup.controllers").write_text("memory pids\n")
        (d / "memory.max").write_text(f"{spec.get('max', 'max')}\n")
        swap = spec.get("swap", "max")
        if swap != "absent":
            (d / "memory.swap.max").write_text(f"{swap}\n")
        (d / "memory.oom.group").write_text(f"{spec.get('oom_group', 0)}\n")
        (d / "memory.current").write_text(f"{spec.get('current', 0)}\n")
    return root
