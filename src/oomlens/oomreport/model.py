"""Value types produced by the kernel-log parser.

Every number keeps the unit the kernel printed it in, and each field says which:

* ``*_kb`` fields are kB as printed (``K(pages)`` in the kill / reaper lines, memcg usage lines,
  ``Total swap = NkB``, zone ``present:NkB``);
* task-table fields (``total_vm``, ``rss``, ``rss_*``, ``swapents``) are **pages**; ``nr_ptes`` /
  ``nr_pmds`` / ``nr_puds`` are counts of page-table pages; ``pgtables_bytes`` is **bytes**;
* ``pages_*`` fields of :class:`MemInfoBlock` are pages;
* memcg ``stats`` keep the printed values: the 3.9-5.2 one-line form is ``KB``, the 5.3+
  ``memory.stat`` form is bytes for sizes and plain counts for events (``stats_unit`` says which form).

Nothing here converts or guesses. Derived facts (``domain``, ``victim_pid``) are properties whose
docstrings say where they come from; doubtful input is recorded in ``notes`` / ``warnings``.

Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "InvokedLine", "CpuLine", "MemcgBlock", "ZoneInfo", "MemInfoBlock", "TaskRow", "TaskTable",
    "SummaryLine", "SelectionLine", "KillLine", "ReaperLine", "OomEvent",
]


def _plain(value: Any) -> Any:
    """JSON-ready copy: dataclasses to dicts, tuples to lists."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.metadata.get("json", True)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


class _ToDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (tuples become lists)."""
        return _plain(self)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class InvokedLine(_ToDict):
    """``dump_header()``'s first line: ``<comm> invoked oom-killer: gfp_mask=..., order=N, ...``.

    ``comm`` is ``current`` (the allocating task), not the victim; None for the 2.6.11 form
    ``oom-killer: gfp_mask=0x..`` that has no comm. ``pid`` comes from the ``CPU: .. PID: ..`` /
    ``Pid: N, comm:`` line when one was printed. ``oom_adj`` holds the legacy value whether it was
    printed as ``oomkilladj=`` (2.6.19-2.6.30) or ``oom_adj=`` (2.6.31-3.6); ``variant`` says which.
    ``order == -1`` means a sysrq-f OOM (4.x+).
    """

    comm: str | None
    pid: int | None
    gfp_mask: int | None
    gfp_flags: str | None
    order: int | None
    oom_score_adj: int | None
    oom_adj: int | None
    nodemask: str | None
    variant: str
    lineno: int


@dataclass(frozen=True, slots=True)
class CpuLine(_ToDict):
    """``dump_stack()``'s ``CPU: N [UID: U] PID: P Comm: C <taint> <release> #build`` line
    (``Pid: P, comm: C ...`` before ~3.10; s390's ``CPU: N <taint> <release> #build`` before 3.x, which names the
    task on the next line: ``pid`` and ``comm`` None). ``release`` is the kernel release as printed."""

    cpu: int | None
    pid: int | None
    comm: str | None
    uid: int | None
    tainted: str | None
    release: str | None
    lineno: int


@dataclass(frozen=True, slots=True)
class MemcgBlock(_ToDict):
    """``mem_cgroup_print_oom_meminfo()`` (and its 2.6.3x-4.x ancestors). All sizes kB as printed;
    an unlimited limit prints as PAGE_COUNTER_MAX in kB (e.g. 9007199254740988kB) and is kept so.

    ``version`` is 1 when ``memory+swap:``/``kmem:`` lines were printed, 2 when ``swap:`` was, else
    None. ``stats`` are the ``Memory cgroup stats for <stats_path>`` pairs in printed order;
    ``stats_unit`` is ``"KB"`` (3.9-5.2 one-line form, values in KB) or ``"memory.stat"`` (5.3+,
    sizes in bytes, event counters as counts)."""

    usage_kb: int | None = None
    limit_kb: int | None = None
    failcnt: int | None = None
    memsw_usage_kb: int | None = None
    memsw_limit_kb: int | None = None
    memsw_failcnt: int | None = None
    swap_usage_kb: int | None = None
    swap_limit_kb: int | None = None
    swap_failcnt: int | None = None
    kmem_usage_kb: int | None = None
    kmem_limit_kb: int | None = None
    kmem_failcnt: int | None = None
    version: int | None = None
    stats_path: str | None = None
    stats_unit: str | None = None
    stats: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneInfo(_ToDict):
    """One ``[Node N ]<zone> free:NkB min:.. present:NkB managed:NkB ..`` line (kB as printed;
    ``managed`` exists from ~3.8). ``node`` is None for the pre-NUMA-aware ``DMA free:`` form."""

    node: int | None
    zone: str
    free_kb: int | None
    min_kb: int | None
    low_kb: int | None
    high_kb: int | None
    present_kb: int | None
    managed_kb: int | None


@dataclass(frozen=True, slots=True)
class MemInfoBlock(_ToDict):
    """``show_mem()`` (``Mem-Info:``) totals. ``pages_*`` are pages, ``*_kb`` kB, as printed.

    ``vmstat`` holds the global ``key:value`` counters printed right after ``Mem-Info:`` (pages).
    Zones may have been filtered by the kernel (node / highest-zone filters); the totals are not.
    """

    pages_ram: int | None = None
    pages_reserved: int | None = None
    pages_highmem: int | None = None
    pages_movable_only: int | None = None
    pages_cma_reserved: int | None = None
    pages_hwpoisoned: int | None = None
    pages_shared: int | None = None
    pages_non_shared: int | None = None
    pages_in_swap_cache: int | None = None
    total_pagecache_pages: int | None = None
    total_swap_kb: int | None = None
    free_swap_kb: int | None = None
    zones: tuple[ZoneInfo, ...] = ()
    vmstat: tuple[tuple[str, int], ...] = ()
    has_header: bool = False
    """True when the ``Mem-Info:`` line itself was seen (not just a tail of the block)."""
    buddy_page_kb: int | None = None
    """The page size in kB the zones' buddy lists print (``N*4kB N*8kB ...``: the order-0 block first); None when no
    buddy list was printed (or they disagree)."""


@dataclass(frozen=True, slots=True)
class TaskRow(_ToDict):
    """One ``dump_tasks()`` row. Columns the table variant lacks are None.

    Units as printed: ``total_vm``, ``rss``, ``rss_anon``, ``rss_file``, ``rss_shmem`` and
    ``swapents`` are pages; ``nr_ptes`` / ``nr_pmds`` / ``nr_puds`` count page-table pages;
    ``pgtables_bytes`` is bytes (4.15+; divide by PAGE_SIZE for the score). ``cpu`` and
    ``oom_adj`` exist only in 2.6.25-3.5 tables. ``pid`` is the bracketed first column (the
    thread holding the mm), ``tgid`` the process id. ``name`` is comm, spaces kept.
    """

    pid: int
    uid: int | None
    tgid: int | None
    total_vm: int | None
    rss: int | None
    rss_anon: int | None = None
    rss_file: int | None = None
    rss_shmem: int | None = None
    nr_ptes: int | None = None
    nr_pmds: int | None = None
    nr_puds: int | None = None
    pgtables_bytes: int | None = None
    swapents: int | None = None
    cpu: int | None = None
    oom_adj: int | None = None
    oom_score_adj: int | None = None
    name: str = ""
    lineno: int = 0


@dataclass(frozen=True, slots=True)
class TaskTable(_ToDict):
    """The task dump. ``variant`` names the header era (``"2.6.25"``, ``"2.6.36"``, ``"3.6"``,
    ``"4.0"``, ``"4.0+nr_puds"``, ``"4.15"``, ``"4.19"``, ``"6.8"``, ``"unknown"``, ``"4.15-6.7"`` (rows without
    their header read as pgtables_bytes: see the event's notes) or
    ``"headerless"``); ``columns`` are the header's names in order (empty when no header was seen).

    ``filtered``: rows are known or likely to be missing (see the event's notes for why);
    ``truncated``: the table was cut (no header, or omitted lines such as a grep ``--``), and ``truncated_why``
    says how. ``duplicates_removed`` counts rows dropped because the same row had already been seen.
    """

    variant: str
    columns: tuple[str, ...]
    rows: tuple[TaskRow, ...]
    tasks_state_line: bool = False
    filtered: bool = False
    truncated: bool = False
    duplicates_removed: int = 0
    truncated_why: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryLine(_ToDict):
    """The 5.0+ ``oom-kill:constraint=..,nodemask=..,cpuset=..,mems_allowed=..,
    global_oom|oom_memcg=..,task_memcg=..,task=..,pid=..,uid=..`` line (``dump_oom_summary``).
    ``split`` is True when it was printed on two lines (early 5.0 ``pr_info`` bug) and rejoined."""

    constraint: str | None
    nodemask: str | None
    cpuset: str | None
    mems_allowed: str | None
    global_oom: bool | None
    oom_memcg: str | None
    task_memcg: str | None
    task: str | None
    pid: int | None
    uid: int | None
    split: bool
    lineno: int


@dataclass(frozen=True, slots=True)
class SelectionLine(_ToDict):
    """``oom_kill_process()``'s selection line (2.6.19-5.0): ``<prefix>: Kill process P (name)
    score S or sacrifice child`` and its older wordings. The named task is the *selected* one; a
    child may have been killed instead (see the kill line). ``score`` is as printed (3.5-5.0:
    ``points*1000/T``; 2.6.36-3.4: 0..1000 badness; legacy: raw badness).

    ``kind``: ``"global"`` (``Out of memory``), ``"memcg"`` (``Memory cgroup out of memory``),
    ``"allocating_task"`` (``Out of memory (oom_kill_allocating_task)``), ``"legacy"`` (``Out of Memory``),
    ``"mempolicy"`` (``No available memory (MPOL_BIND)``, 2.6.16-2.6.35) or ``"cpuset"`` (``No available memory in
    cpuset``, 2.6.16-2.6.23): the last two killed the allocating task without a badness scan. A line with another
    prefix is no selection or kill line (no kernel printed it).
    ``wording``: ``"or sacrifice child"`` / ``"or a child"`` / ``"and children"``. A line cut short
    has None for what it lost (``name``, ``score``, ``wording``).
    """

    pid: int
    name: str | None
    score: int | None
    kind: str
    prefix: str
    wording: str | None
    lineno: int


@dataclass(frozen=True, slots=True)
class KillLine(_ToDict):
    """A ``Killed process`` line (``__oom_kill_process``). Sizes in kB as printed.

    ``variant``: ``"2.4"`` (``Out of Memory: Killed process N (x).``), ``"bare"``
    (``Killed process N (x)``), ``"vsz"`` (~2.6.33-35; ``total_vm_kb`` holds ``vsz``),
    ``"rhel6"`` (``Killed process N, UID U, (x) total-vm:..``), ``"rhel7"`` (RHEL/CentOS 7.6+'s 3.10:
    ``Killed process N (x), UID U, total-vm:.., shmem-rss:..``), ``"2.6.36"`` (total-vm, anon, file),
    ``"4.5"`` (+shmem-rss), ``"5.3"`` (+UID), ``"5.4"`` (+pgtables, oom_score_adj).
    ``kind`` is the prefix's meaning as for :class:`SelectionLine` (``"none"`` without a prefix).
    A line cut short (see ``parse.Cut``) has None for the fields it lost (``name`` too) and
    variant ``"cut"`` when what is left proves no format.
    """

    pid: int
    name: str | None
    uid: int | None
    total_vm_kb: int | None
    anon_rss_kb: int | None
    file_rss_kb: int | None
    shmem_rss_kb: int | None
    pgtables_kb: int | None
    oom_score_adj: int | None
    kind: str
    prefix: str | None
    variant: str
    lineno: int
    cut: bool = field(default=False, metadata={"json": False})
    """The line was cut short (the fields it lost are None; they date nothing). Not in the JSON: the event's notes
    say it."""


@dataclass(frozen=True, slots=True)
class ReaperLine(_ToDict):
    """``oom_reaper: reaped process P (x), now anon-rss:..kB, file-rss:..kB, shmem-rss:..kB``
    (``reaped`` True) or ``oom_reaper: unable to reap pid:P (x)`` (``reaped`` False). kB."""

    pid: int
    name: str
    reaped: bool
    anon_rss_kb: int | None
    file_rss_kb: int | None
    shmem_rss_kb: int | None
    lineno: int


@dataclass(frozen=True, slots=True)
class OomEvent(_ToDict):
    """One OOM report (or the surviving part of one) as found in a log.

    ``start_line`` / ``end_line`` are 1-based line numbers in the input (first and last line
    attached, late ``oom_reaper`` lines included). ``timestamp`` is the wall-clock text of the first
    line when a syslog/journal/``dmesg -T`` prefix had one; ``uptime`` the ``[seconds]`` stamp.

    ``constraint`` is only ever the printed one (5.0+ ``oom-kill:`` line); see :attr:`domain` for
    the evidence-based global/memcg classification. ``oom_memcg``/``task_memcg`` come from the
    summary line or from ``Task in <task_memcg> killed as a result of limit of <oom_memcg>``.

    ``killed`` lists every distinct ``Killed process`` line in print order (the first is the
    victim; more appear for ``memory.oom.group``). ``reaped`` are reaper lines naming a killed pid;
    ``other_reaped`` reaper lines seen while this event was open that name other pids (earlier
    OOMs whose reports are not in the input).
    """

    source: str
    host: str | None
    start_line: int
    end_line: int
    timestamp: str | None = None
    uptime: float | None = None
    kernel_release: str | None = None
    format_hints: tuple[str, ...] = ()
    invoked: InvokedLine | None = None
    cpu: CpuLine | None = None
    sysrq: bool = False
    constraint: str | None = None
    nodemask: str | None = None
    cpuset: str | None = None
    mems_allowed: str | None = None
    oom_memcg: str | None = None
    task_memcg: str | None = None
    memcg: MemcgBlock | None = None
    meminfo: MemInfoBlock | None = None
    table: TaskTable | None = None
    summary: SummaryLine | None = None
    selection: SelectionLine | None = None
    killed: tuple[KillLine, ...] = ()
    sharing_killed: tuple[tuple[int, str], ...] = ()
    """``Kill process N (x) sharing same memory`` (2.6.36-~4.6): other users of the victim's mm."""
    mm_pinned_by: tuple[tuple[int, str, int, str], ...] = ()
    """``oom killer P (x) has mm pinned by Q (y)``: (victim pid, name, pinning pid, name)."""
    oom_group_path: str | None = None
    reaped: tuple[ReaperLine, ...] = ()
    other_reaped: tuple[ReaperLine, ...] = ()
    already_exiting: tuple[tuple[int, str, str], ...] = ()
    """``<prefix>: OOM victim P (x) is already exiting. Skip killing the task`` lines as
    (pid, name, prefix kind); the kind is as for :class:`KillLine`."""
    no_killable: bool = False
    panic: str | None = None
    followed_by: int | None = None
    """A line of the same host's next OOM report when that report follows this one directly (the same stretch of the
    log, an uptime stamp not earlier): the kernel went on after this report (it did not panic there)."""
    trace_evidence: tuple[str, ...] = ()
    """Notable call-trace functions (``out_of_memory``, ``mem_cgroup_out_of_memory``,
    ``moom_callback``, ...), first occurrence order. Evidence only."""
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    # ---- derived views -------------------------------------------------------------------
    @property
    def victim_pid(self) -> int | None:
        """The pid the kernel killed: first ``Killed process`` line, else the ``oom-kill:``
        summary's ``pid=`` (printed just before the kill), else (a reaper-only event) the pid an
        ``oom_reaper`` line names. None when none was printed (the selection line is not used: a
        child may have died instead)."""
        if self.killed:
            return self.killed[0].pid
        if self.summary is not None and self.summary.pid is not None:
            return self.summary.pid
        if self.reaped and not self.already_exiting and self.selection is None:
            return self.reaped[0].pid   # a reaper-only event: the reaper only reaps OOM victims
        return None

    @property
    def victim_name(self) -> str | None:
        """Name matching :attr:`victim_pid`."""
        if self.killed:
            return self.killed[0].name
        if self.summary is not None:
            return self.summary.task
        if self.reaped and not self.already_exiting and self.selection is None:
            return self.reaped[0].name
        return None

    @property
    def domain(self) -> str | None:
        """``"memcg"`` or ``"global"`` from printed evidence (summary constraint / ``oom_memcg``,
        ``Task in .. limit of``, memcg usage block, ``Memory cgroup out of memory`` prefix,
        memcg call-trace frames), ``"global"`` also for a ``Mem-Info`` block or an
        ``Out of memory`` prefix. None when nothing tells. ``global`` includes cpuset/mempolicy
        constrained OOMs (only the 5.0+ summary and the 2.6.16-2.6.35 ``No available memory`` prefixes tell
        those apart)."""
        if self.constraint == "CONSTRAINT_MEMCG" or self.oom_memcg:
            return "memcg"
        if self.memcg is not None or any(
            k.kind == "memcg" for k in self.killed
        ) or (self.selection is not None and self.selection.kind == "memcg"):
            return "memcg"
        if any(f in _MEMCG_FRAMES for f in self.trace_evidence):
            return "memcg"
        if self.constraint is not None or (self.summary is not None and self.summary.global_oom):
            return "global"
        if self.meminfo is not None and self.meminfo.has_header:
            return "global"
        kinds = {k.kind for k in self.killed} | {e[2] for e in self.already_exiting}
        if self.selection is not None:
            kinds.add(self.selection.kind)
        if "memcg" in kinds:
            return "memcg"
        if kinds & {"global", "allocating_task", "legacy", "mempolicy", "cpuset"}:
            return "global"
        if self.meminfo is not None and self.meminfo.pages_ram is not None:
            return "global"
        return None

    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        d["victim_pid"] = self.victim_pid
        d["victim_name"] = self.victim_name
        d["domain"] = self.domain
        return d  # type: ignore[no-any-return]


_MEMCG_FRAMES = frozenset({
    "mem_cgroup_out_of_memory", "mem_cgroup_oom_synchronize", "mem_cgroup_handle_oom",
    "mem_cgroup_oom", "try_charge_memcg",
})
