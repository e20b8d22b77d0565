"""Value types shared by the kernel model, the /proc reader and the log parser.

Units follow the kernel's mm counters: every memory field without a unit suffix is in **pages**
(``PAGE_SIZE`` units, 4 KiB on x86-64), exactly like ``MM_ANONPAGES`` & co. Fields with a suffix say
their unit (``pgtables_bytes``). Conversion from kB (``/proc``, kill lines) to pages happens once, at
the boundary that read the value, never inside the model.

Pure: standard library only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

PAGE_SIZE = 4096
"""Bytes per page; x86-64 and most arm64 kernels. The boundary readers may override per snapshot."""

OOM_SCORE_ADJ_MIN = -1000
OOM_SCORE_ADJ_MAX = 1000
OOM_DISABLE = -17
"""Legacy ``oom_adj`` value that disables OOM killing (2.6.x ``OOM_DISABLE``)."""
OOM_ADJUST_MIN = -16
OOM_ADJUST_MAX = 15

LONG_MIN = -(2**63)
"""``oom_badness()`` result for a task that is not eligible (5.9+)."""
LONG_MAX = 2**63 - 1
ULONG_MAX = 2**64 - 1


class OomConstraint(enum.Enum):
    """Mirror of ``enum oom_constraint`` (mm/oom_kill.c); values are the names the kernel prints."""

    NONE = "CONSTRAINT_NONE"
    CPUSET = "CONSTRAINT_CPUSET"
    MEMORY_POLICY = "CONSTRAINT_MEMORY_POLICY"
    MEMCG = "CONSTRAINT_MEMCG"


class Unknown(enum.Enum):
    """Sentinel for a fact the data source cannot show (e.g. MMF_OOM_SKIP is invisible in /proc)."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return "UNKNOWN"

    def __bool__(self) -> bool:
        # "unknown" is neither true nor false: ``if task.oom_skip:`` would silently read it as "not set".
        # Callers decide explicitly (``flag is True``) and record the assumption.
        raise TypeError("an UNKNOWN fact has no truth value: test `is True` / `is UNKNOWN` explicitly")


UNKNOWN = Unknown.UNKNOWN


@dataclass(slots=True)
class Task:
    """One OOM candidate: a thread group (process) and the counters of its mm.

    Memory counters are pages, as the kernel keeps them (``rss_anon`` = ``MM_ANONPAGES``,
    ``rss_file`` = ``MM_FILEPAGES``, ``rss_shmem`` = ``MM_SHMEMPAGES``, ``swapents`` = ``MM_SWAPENTS``).
    When a source shows only the combined rss (old task tables), it goes to ``rss_anon`` and
    ``rss_split_known`` is False.

    Page tables: ``pgtables_bytes`` is ``mm_pgtables_bytes()`` (VmPTE * 1024 from /proc). Logs of
    3.6-4.14 print counts instead; those go to ``nr_ptes`` / ``nr_pmds`` (pages) so that each era can
    count exactly what its kernel counted.

    Flags that ``/proc`` and logs cannot show (MMF_OOM_SKIP, in_vfork, oom origin) default to
    ``UNKNOWN``; the model treats UNKNOWN as "not set" and reports that assumption.

    Treat a Task as immutable: derive changed copies with :meth:`with_`. It is not declared
    ``frozen`` only because a frozen 38-field dataclass costs 3.6x more to build (6.7 vs 1.9 µs),
    which is 7% of ``oomlens top`` on a host with thousands of processes (bench/bench_top.py).
    """

    pid: int
    name: str
    uid: int = 0
    tgid: int | None = None
    ppid: int = 0
    oom_score_adj: int = 0
    rss_anon: int = 0
    rss_file: int = 0
    rss_shmem: int = 0
    swapents: int = 0
    pgtables_bytes: int = 0
    nr_ptes: int | None = None
    nr_pmds: int | None = None
    total_vm: int = 0
    rss_split_known: bool = True
    # eligibility inputs
    has_mm: bool = True
    is_kthread: bool = False
    is_global_init: bool = False
    exiting: bool = False
    oom_skip: bool | Unknown = UNKNOWN
    in_vfork: bool | Unknown = UNKNOWN
    oom_origin: bool | Unknown = UNKNOWN
    cap_sys_admin: bool | Unknown = UNKNOWN
    # legacy (<= 2.6.35) heuristic inputs; None when not known
    cap_sys_resource: bool | Unknown = UNKNOWN
    cap_sys_rawio: bool | Unknown = UNKNOWN
    nice: int = 0
    utime_ticks: int = 0
    stime_ticks: int = 0
    start_time_s: float = 0.0
    children: tuple[int, ...] = ()
    mm_id: int | None = None
    """Identity of the mm when known (processes sharing it via CLONE_VM share the id)."""
    # context
    memcg: str | None = None
    num_threads: int = 1
    state: str = ""
    legacy_oom_adj: int | None = None
    """Legacy ``oom_adj`` when the source printed it (2.6.x tables); else derived from oom_score_adj."""

    @property
    def rss(self) -> int:
        """``get_mm_rss()``: anon + file + shmem pages."""
        return self.rss_anon + self.rss_file + self.rss_shmem

    def with_(self, **changes: object) -> Task:
        """A copy with some fields changed (what-if edits)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class MemInfo:
    """What ``constrained_alloc`` needs about the machine, in pages."""

    totalram_pages: int
    total_swap_pages: int = 0
    page_size: int = PAGE_SIZE
    node_present_pages: tuple[int, ...] = ()
    """Per NUMA node present pages, for cpuset / mempolicy domains (empty when unknown)."""


@dataclass(frozen=True, slots=True)
class MemcgLimits:
    """A memory cgroup's limits as ``mem_cgroup_get_max()`` reads them, in pages (None = unlimited).

    ``version`` is 1 or 2. For v1, ``memsw_max`` is memory.memsw.limit_in_bytes; for v2, ``swap_max``
    is memory.swap.max. ``swappiness`` is the cgroup's (v1) or the global vm.swappiness (v2).
    """

    path: str
    version: int
    memory_max: int | None
    memsw_max: int | None = None
    swap_max: int | None = None
    swappiness: int = 60
    oom_group: bool = False
    usage: int | None = None
    oom_kill_disable: bool = False
    """v1 ``memory.oom_control`` oom_kill_disable: a memcg OOM then kills nobody (tasks wait)."""


@dataclass(frozen=True, slots=True)
class VmSysctls:
    """The vm sysctls that change what an OOM does."""

    panic_on_oom: int = 0
    oom_kill_allocating_task: int = 0
    oom_dump_tasks: int = 1
    swappiness: int = 60


@dataclass(frozen=True, slots=True)
class KernelRelease:
    """A kernel release such as ``6.18.44-fc-v657``; compares by its numeric part."""

    release: str
    version: tuple[int, ...] = field(default=())

    @classmethod
    def parse(cls, release: str) -> KernelRelease:
        import re

        m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", release)
        if not m:
            raise ValueError(f"not a kernel release: {release!r}")
        nums = tuple(int(g) for g in m.groups() if g is not None)
        if len(nums) == 2:
            nums = nums + (0,)
        return cls(release=release.strip(), version=nums)
