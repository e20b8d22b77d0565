"""Line parsers for the kernel's OOM report, one per kernel function that prints the text.

Each ``parse_*`` function takes one normalised message (prefixes already stripped, see
:mod:`oomlens.oomreport.normalize`) and returns a value object or None. They are named after the
printing function in ``mm/oom_kill.c`` / ``mm/memcontrol.c`` / ``mm/show_mem.c`` so that a reader
can grep the kernel for the matching ``pr_*`` call:

* :func:`parse_dump_header` - ``<comm> invoked oom-killer: gfp_mask=..`` (all eras, spec 6.1)
* :func:`parse_cpuset_print_current_mems_allowed` - ``<comm> cpuset=<name> mems_allowed=<list>``
* :func:`parse_dump_stack_print_info` - ``CPU: N PID: P Comm: c .. <release>`` / ``Pid: P, comm:``
* :func:`parse_dump_tasks` / :func:`parse_dump_tasks_header` / :func:`parse_dump_tasks_row`
* :func:`parse_oom_summary` - ``oom-kill:constraint=..`` (5.0+)
* :func:`parse_oom_kill_process` - selection, ``Killed process``, sharing, pinned, exiting lines
* :func:`parse_oom_reaper` - ``oom_reaper: reaped process ..`` / ``unable to reap``
* :func:`parse_mem_cgroup_print_oom_info` - ``Task in .. killed as a result of limit of ..``,
  ``memory:``/``memory+swap:``/``swap:``/``kmem:`` usage lines, ``Memory cgroup stats for``
* :func:`parse_show_mem` - ``Mem-Info:`` block lines and totals

:func:`classify` dispatches one line to the right parser and returns ``(kind, payload)``.

Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from oomlens.oomreport.model import (
    CpuLine,
    InvokedLine,
    KillLine,
    ReaperLine,
    SelectionLine,
    SummaryLine,
    TaskRow,
    TaskTable,
    ZoneInfo,
)

__all__ = [
    "classify", "parse_dump_header", "parse_cpuset_print_current_mems_allowed",
    "parse_dump_stack_print_info", "parse_dump_tasks", "parse_dump_tasks_header",
    "parse_dump_tasks_row", "parse_oom_summary", "parse_oom_kill_process", "parse_oom_reaper",
    "parse_mem_cgroup_print_oom_info", "parse_show_mem", "table_variant", "frame_function",
    "Kind", "OOM_FRAMES", "Unusable", "sane_release", "Cut", "CUT_EOF", "CUT_CAP", "CUT_MARKS",
    "cut_mark", "parse_dump_tasks_row_cut", "INIT_PANIC", "INIT_PANIC_LINE", "unknown_columns",
    "parse_patched_tasks_header",
]


class Kind:
    """Line kinds returned by :func:`classify` (plain strings, cheap to compare)."""

    NOISE = "noise"
    PARTIAL = "partial"          # an OOM line cut short (hard wrap); may be joined with the next
    UNUSABLE = "unusable"        # an OOM line with a field no kernel prints (payload: why, evidence)
    GREP_SEP = "grep-sep"        # "--" between grep -A/-B context groups: lines were omitted
    ELIDED = "elided"            # "...", "(...snipped...)", "<...snip...>" alone on a line: an excerpt left lines out
    RATELIMIT = "ratelimit"      # "<fn>: N callbacks suppressed"
    SYSRQ = "sysrq"              # "sysrq: Manual OOM execution"
    INVOKED = "invoked"
    CPUSET = "cpuset"
    CPU = "cpu"
    TRACE = "trace"              # Call Trace header, frames, registers, hex stack, Hardware name
    TASK_IN = "task-in"
    MEMCG_USAGE = "memcg-usage"
    MEMCG_STATS = "memcg-stats"
    MEMCG_KV = "memcg-kv"        # "anon 7688192" (memory.stat line; meaningful only in context)
    MEMINFO = "meminfo"          # Mem-Info block line with a distinctive shape
    VMSTAT = "vmstat"            # "key:value key:value" (meaningful only in context)
    TASKS_STATE = "tasks-state"
    TABLE_HEADER = "table-header"
    TABLE_ROW = "table-row"
    SUMMARY = "summary"
    SUMMARY_CONT = "summary-cont"
    SELECT = "select"
    KILLED = "killed"
    SHARING = "sharing"
    PINNED = "pinned"
    OOM_GROUP = "oom-group"
    EXITING = "exiting"
    NO_KILLABLE = "no-killable"
    PANIC = "panic"
    REAPER = "reaper"


# Call-trace functions that only run during an OOM kill; any of them makes a report real.
OOM_FRAMES = frozenset({
    "out_of_memory", "oom_kill_process", "__oom_kill_process", "dump_header", "select_bad_process",
    "oom_badness", "mem_cgroup_out_of_memory", "mem_cgroup_oom_synchronize",
    "mem_cgroup_handle_oom", "pagefault_out_of_memory", "moom_callback", "__alloc_pages_may_oom",
    "oom_kill_memcg_member", "mem_cgroup_oom",
})

_INT = re.compile(r"-?\d+")

# ---------------------------------------------------------------------------------------------
# dump_header()

_INVOKED_KEY = "oom-killer:"
_INVOKED = re.compile(
    r"oom-killer: ?gfp_mask=(?P<gfp>0x[0-9a-fA-F]++|\d++)"
    r"(?:\((?P<flags>[^)]*)\))?"
    r"(?:,\s*nodemask=(?P<nodemask>[^,\s]*(?:,\d[^,\s]*)*?|\(null\)))?"
    r"(?:,\s*order=(?P<order>-?\d+))?"
    r"(?:,\s*oomkilladj=(?P<oomkilladj>-?\d+))?"
    r"(?:,\s*oom_adj=(?P<oom_adj>-?\d+))?"
    r"(?:,\s*oom_score_adj=(?P<osa>-?\d+))?\s*$")


def parse_dump_header(text: str, lineno: int = 0) -> InvokedLine | None:
    """``dump_header()``'s first line, every era of spec 6.1 (2.6.11 ``oom-killer: gfp_mask=``,
    ``oomkilladj=``, ``oom_adj=``, symbolic GFP flags, ``nodemask=`` with one or two spaces)."""
    at = text.find(_INVOKED_KEY)
    if at < 0:
        return None
    # the one literal is found with str.find and the regex anchored there: linear in the line
    if at == 0:
        comm: str | None = None
    elif text.endswith(" invoked ", 0, at):
        comm = text[:at - len(" invoked ")]
    else:
        return None
    m = _INVOKED.match(text, at)
    if m is None:
        return None
    g = m.group
    if comm is None:
        variant = "2.6.11"
    elif g("oomkilladj") is not None:
        variant = "2.6.19-2.6.30"
    elif g("oom_adj") is not None:
        variant = "2.6.36-3.6" if g("osa") is not None else "2.6.31-2.6.35"
    elif g("nodemask") is not None:
        variant = "4.10-4.16" if re.search(r",  order=", text) else "4.9-4.19"
    elif g("flags") is not None:
        variant = "4.5+"
    else:
        variant = "3.7-4.4"
    gfp = g("gfp")
    return InvokedLine(
        comm=comm, pid=None,
        gfp_mask=_int(gfp[2:], "gfp_mask", 16) if gfp.lower().startswith("0x") else _int(gfp, "gfp_mask"),
        gfp_flags=g("flags"), order=_opt_int(g("order")), oom_score_adj=_opt_int(g("osa")),
        oom_adj=_opt_int(g("oomkilladj") if g("oomkilladj") is not None else g("oom_adj")),
        nodemask=g("nodemask"), variant=variant, lineno=lineno)


_CPUSET = re.compile(r"(?P<comm>.{0,64}?) ?cpuset=(?P<cpuset>.*) mems_allowed=(?P<mems>[\d,\-]*)$")


def parse_cpuset_print_current_mems_allowed(text: str) -> tuple[str, str, str] | None:
    """``<comm> cpuset=<name> mems_allowed=<list>`` (printed after the header up to 4.19)."""
    if "mems_allowed=" not in text or "cpuset=" not in text or text.startswith("oom-kill:"):
        return None
    m = _CPUSET.match(text)
    return (m.group("comm"), m.group("cpuset"), m.group("mems")) if m else None


# print_tainted(): one character per taint bit, a letter when set, a blank when not. RHEL 6/7 kernels print their
# placeholder bits as '-' when unset and '?' (or a vendor letter) when set, so the flags hold dashes too:
# "Tainted: G    B          ------------ T 3.10.0-..." / "Tainted: G           O E ----V-------   3.10.0-...".
# Runs of flag characters after blanks; possessive, so a run of blanks is scanned once.
_TAINT = r"(?:[ \t]*+[A-Z?\-]++)*+"
_CPU = re.compile(
    r"CPU: (?P<cpu>\d+) (?:UID: (?P<uid>\d+) )?PID: (?P<pid>\d+) Comm: (?P<comm>.{0,64}?)"
    r"(?: Kdump: \w+)? (?:Not tainted|Tainted: (?P<taint>" + _TAINT + r"))"
    + r"[ \t]++(?P<rel>\d+\.\d+\S*+)")
_PID = re.compile(
    r"Pid: (?P<pid>\d+), comm: (?P<comm>.{0,64}?) (?:Not tainted|Tainted: (?P<taint>" + _TAINT + r"))"
    + r"[ \t]++(?P<rel>\d+\.\d+\S*+)")
_CPU_S390 = re.compile(
    r"CPU: (?P<cpu>\d+) (?:Not tainted|Tainted: (?P<taint>" + _TAINT + r"))"
    + r"[ \t]++(?P<rel>\d+\.\d+\S*+)(?: \S++)?$")
"""s390's own ``dump_stack()`` before 3.x: ``CPU: %d %s %s %.*s`` (cpu, taint, release, version up to its first blank),
the task on the next line (``Process %s (pid: %d, task: %p, ksp: %p)``): arch/s390/kernel/traps.c of 2.6.2x."""


def parse_dump_stack_print_info(text: str, lineno: int = 0) -> CpuLine | None:
    """``CPU: N [UID: U] PID: P Comm: c Not tainted|Tainted: .. <release> #..`` (``dump_stack``);
    ``Pid: P, comm: c ...`` before ~3.10; s390's ``CPU: N Not tainted|Tainted: .. <release> #..`` (no task: pid and
    comm None). Captures the kernel release."""
    if text.startswith("CPU: "):
        m = _CPU.match(text) or _CPU_S390.match(text)
    elif text.startswith("Pid: "):
        m = _PID.match(text)
    else:
        return None
    if m is None:
        return None
    g = m.groupdict()
    taint = g.get("taint")
    return CpuLine(cpu=_opt_int(g.get("cpu")), pid=_opt_int(g.get("pid"), "pid"), comm=g.get("comm"),
                   uid=_opt_int(g.get("uid")), tainted=taint.strip() if taint else None,
                   release=g["rel"], lineno=lineno)


_RELEASE = re.compile(r"(\d{1,6})\.(\d{1,6})(?!\d)")


def sane_release(release: str) -> bool:
    """Whether a printed release can be a Linux release: ``major.minor[.patch]`` with a major of
    2-99 (vendors append anything after it). ``1.2.3``, ``100.0``, ``4294967296.13.0`` are not."""
    m = _RELEASE.match(release)
    return m is not None and m.group(1).isascii() and 2 <= int(m.group(1)) <= 99


# ---------------------------------------------------------------------------------------------
# Call trace

_FRAME = re.compile(
    r"(?:\[<[0-9a-fA-F]+>\] ?)?(?:\? )?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+"
    r"(?: \[[\w]+\])?(?: from \[<[0-9a-f]+>\].*)?$")
_ARM_FRAME = re.compile(r"\[<[0-9a-f]+>\] \((?P<fn>[A-Za-z_][\w.]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\)")
_RAW_FRAME = re.compile(r"\[<[0-9a-fA-F]+>\] (?:\? )?0x[0-9a-fA-F]+\s*$")
"""A frame without a symbol (``CONFIG_KALLSYMS`` off, e.g. early riscv): ``[<000000008011c2f2>] 0x000000008011c2f2``."""
_REGS = re.compile(
    r"(?:RIP|EIP|RSP|ESP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d{2}|EAX|EBX|ECX|EDX|ESI|EDI|EBP|DS|ES|FS|"
    r"GS|CS|SS|CR\d|DR\d|Code|pc|lr|sp|x\d{1,2}|pstate|PKRU|Stack)\s?:")
_HEXSTACK = re.compile(r"(?:[0-9a-f]{8}|[0-9a-f]{16})(?: (?:[0-9a-f]{8}|[0-9a-f]{16}|\?{8,16}))*$")
_TRACE_WORDS = ("Call Trace:", "Call trace:", "<TASK>", "</TASK>", "<IRQ>", "</IRQ>", "<NMI>",
                "</NMI>", "Hardware name:", "Workqueue:", "Backtrace:", "Exception stack",
                "Stack:", "Tainted: [")


def frame_function(text: str) -> str | None:
    """The function of a call-trace frame line, without ``.cold``/``.part.N``/``.isra.N``/
    ``.constprop.N`` suffixes; None when the line is not a frame."""
    m = _FRAME.match(text) or _ARM_FRAME.match(text)
    if m is None:
        return None
    return m.group("fn").split(".", 1)[0]


# ---------------------------------------------------------------------------------------------
# dump_tasks()

# Column names a task-table header may use (anything else means it is not a task table).
_KNOWN_COLUMNS = frozenset({
    "uid", "tgid", "total_vm", "rss", "cpu", "oom_adj", "oom_score_adj", "nr_ptes", "nr_pmds",
    "nr_puds", "pgtables_bytes", "swapents", "rss_anon", "rss_file", "rss_shmem", "name",
})
_HEADER = re.compile(r"\[\s*+pid\s*+\]\s++(?P<cols>[\w()%.-]++(?:[ \t]++[\w()%.-]++)*+)\s*+$")
"""A header's shape; its column names are checked after (known names only, or one or two patched ones)."""
_PATCHED_COLUMN = re.compile(r"[\w()%.-]{1,24}")
"""A column a patched kernel added to an otherwise known header (at most two, next to uid, tgid and rss)."""
_ROW = re.compile(r"\[\s*(?P<pid>-?\d+)\]\s+(?P<rest>\S.*)$")  # -1: not a kernel pid, but a row (noted, not skipped)
_ROW_PID_ONLY = re.compile(r"\[\s*(?P<pid>-?\d+)(?P<close>\])?\s*")
"""A row cut short after its pid (its bracket closed: the pid is whole) or inside it."""


def _header_columns(text: str) -> tuple[str, ...] | None:
    """The names after ``[ pid ]`` of a header-shaped line, each once and ``name`` last; else None."""
    if not text.startswith("[") or "pid" not in text[:12]:
        return None
    m = _HEADER.match(text)
    if m is None:
        return None
    cols = tuple(m.group("cols").split())
    return cols if cols and cols[-1] == "name" and len(set(cols)) == len(cols) else None


def parse_dump_tasks_header(text: str) -> tuple[str, ...] | None:
    """The column names of a ``[ pid ]   uid  tgid ... name`` header (``pid`` first, ``name`` last),
    or None. Columns are recognised by name, so any order or vendor column set works as long
    as each name is one the kernel uses."""
    cols = _header_columns(text)
    if cols is None or not set(cols) <= _KNOWN_COLUMNS:
        return None
    return ("pid",) + cols


def parse_patched_tasks_header(text: str) -> tuple[str, ...] | None:
    """The columns of a task-table header that a patched kernel extended: the kernel's own columns (uid, tgid and
    rss among them, ``name`` last) with one or two it does not print (e.g. ``(01)nrss``), else None. Its rows are
    read by the header's names (the unknown columns' values are not used); the analysis says the choice of such a
    kernel is not modelled (see :func:`unknown_columns`)."""
    cols = _header_columns(text)
    if cols is None:
        return None
    unknown = set(cols) - _KNOWN_COLUMNS
    if (not 1 <= len(unknown) <= 2 or not {"uid", "tgid", "rss"} <= set(cols)
            or not all(_PATCHED_COLUMN.fullmatch(c) for c in unknown)):
        return None
    if any(a + b in _KNOWN_COLUMNS for a, b in zip(cols, cols[1:])):
        return None  # a kernel column cut in two ("o" "om_score_adj": a wrap or a terminal's padding), not a patch
    return ("pid",) + cols


def unknown_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The header's columns that no mainline kernel prints (a patched kernel's, e.g. ``(01)nrss``)."""
    return tuple(c for c in columns[1:] if c not in _KNOWN_COLUMNS)


def table_variant(columns: tuple[str, ...], tasks_state_line: bool = False,
                  wide_brackets: bool = False) -> str:
    """Name the kernel era of a task-table header (spec 6.2)."""
    c = set(columns)
    if not columns:
        return "headerless"
    if "rss_anon" in c:
        return "6.8"
    if "pgtables_bytes" in c:
        return "4.19" if (tasks_state_line or wide_brackets) else "4.15"
    if "nr_puds" in c:
        return "4.0+nr_puds"
    if "nr_pmds" in c:
        return "4.0"
    if "nr_ptes" in c:
        return "3.6"
    if "cpu" in c and "oom_score_adj" in c:
        return "2.6.36"
    if "cpu" in c:
        return "2.6.25"
    return "unknown"


_ROW_FIELDS = frozenset({
    "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "nr_ptes", "nr_pmds",
    "nr_puds", "pgtables_bytes", "swapents", "cpu", "oom_adj", "oom_score_adj",
})


def parse_dump_tasks_row(text: str, columns: tuple[str, ...] | None,
                         lineno: int = 0) -> TaskRow | None:
    """One ``dump_task()`` row, mapped by the header's column names. With ``columns=None`` (no
    header seen) only the columns every era shares (uid, tgid, total_vm, rss) are mapped and the
    name is what follows the leading numbers."""
    if not text.startswith("["):
        return None
    m = _ROW.match(text)
    if m is None:
        return None
    pid = _int(m.group("pid"), "pid")
    rest = m.group("rest")
    if columns:
        nnum = len(columns) - 2
        parts = rest.split(None, nnum)
        if len(parts) < nnum:
            return None
        values: dict[str, Any] = {}
        for col, tok in zip(columns[1:-1], parts[:nnum]):
            if not _INT.fullmatch(tok):
                return None
            values[col] = _int(tok, col)
        name = parts[nnum] if len(parts) > nnum else ""
        return TaskRow(pid=pid, uid=values.get("uid"), tgid=values.get("tgid"),
                       total_vm=values.get("total_vm"), rss=values.get("rss"),
                       name=name, lineno=lineno,
                       **{k: v for k, v in values.items()
                          if k in _ROW_FIELDS and k not in ("uid", "tgid", "total_vm", "rss")})
    parts = rest.split()
    nums: list[int] = []
    for tok in parts:
        if not _INT.fullmatch(tok):
            break
        nums.append(_int(tok, "number"))
    if len(nums) < 5:
        return None
    name = rest.split(None, len(nums))[len(nums)] if len(parts) > len(nums) else ""
    return TaskRow(pid=pid, uid=nums[0], tgid=nums[1], total_vm=nums[2], rss=nums[3],
                   name=name, lineno=lineno)


def parse_dump_tasks_row_cut(text: str, columns: tuple[str, ...] | None, lineno: int = 0,
                             flag: int = 0) -> tuple[TaskRow | None, str | None]:
    """A ``dump_task()`` row that may be cut short: ``(row, first column lost)``. A row always
    ends with its name, so a row that stops after a number lost that number (unless no digit can
    follow it) or its name; ``flag`` (see :class:`Cut`) says the name itself may be cut. The
    row's lost columns are None. ``(None, None)``: not a row of this header."""
    if not text.startswith("["):
        return None, None
    m = _ROW.match(text)
    if m is None:
        p = _ROW_PID_ONLY.fullmatch(text)
        if p is None or p.group("close") is None:
            return None, None   # (a pid cut short is no pid: the row does not fit)
        return TaskRow(pid=_int(p.group("pid"), "pid"), uid=None, tgid=None, total_vm=None, rss=None, name="",
                       lineno=lineno), columns[1] if columns and len(columns) > 2 else "uid"
    pid = _int(m.group("pid"), "pid")
    rest = m.group("rest")
    cols = columns[1:-1] if columns else None
    nnum = len(cols) if cols is not None else 0
    if cols is not None:
        parts = rest.split(None, nnum)
    else:
        parts = rest.split()
        k = 0
        while k < len(parts) and _INT.fullmatch(parts[k]):
            k += 1
        if k < len(parts) and k < 5:
            return None, None
        nnum = k if k < len(parts) else max(k, 5)
        cols = ("uid", "tgid", "total_vm", "rss") + tuple(f"column {i + 5}" for i in range(max(nnum - 4, 0)))
        parts = rest.split(None, nnum) if k < len(parts) else parts
    nums = parts[:nnum]
    values: dict[str, int | None] = {}
    lost: str | None = None
    for i, tok in enumerate(nums):
        if not _INT.fullmatch(tok):
            if i == len(parts) - 1 and tok == "-":
                lost = cols[i]
                break
            return None, None
        if i == len(parts) - 1 and not _whole_at_end(tok, 1000 if cols[i] == "oom_score_adj" else 0):
            lost = cols[i]
            break
        values[cols[i]] = _int(tok, cols[i])
    if lost is None:
        if len(parts) < nnum:
            lost = cols[len(parts)]
        elif flag:
            lost = "name"   # (an empty comm, or one of escape codes only, prints as nothing)
    name = parts[nnum] if len(parts) > nnum and lost is None else ""
    row = TaskRow(pid=pid, uid=values.get("uid"), tgid=values.get("tgid"), total_vm=values.get("total_vm"),
                  rss=values.get("rss"), name=name, lineno=lineno,
                  **{k: v for k, v in values.items() if k in _ROW_FIELDS and k not in ("uid", "tgid", "total_vm", "rss")})
    return row, lost


# Headerless rows: the mainline layouts (spec 6.2), by their number of numbers after "[pid]" (name excluded), each
# with the releases that print it. Only these: a vendor's extra column (nr_puds, a patch's) makes a count no
# mainline layout has, or one that another layout has (so the count alone never proves a patched kernel's layout).
HEADERLESS_LAYOUTS: tuple[tuple[str, tuple[str, ...], tuple[int, int, int], tuple[int, int, int] | None], ...] = (
    ("2.6.25", ("uid", "tgid", "total_vm", "rss", "cpu", "oom_adj"), (2, 6, 25), (2, 6, 35)),
    ("2.6.36", ("uid", "tgid", "total_vm", "rss", "cpu", "oom_adj", "oom_score_adj"), (2, 6, 36), (3, 5, 9999)),
    ("3.6", ("uid", "tgid", "total_vm", "rss", "nr_ptes", "swapents", "oom_score_adj"), (3, 6, 0), (3, 19, 9999)),
    ("4.0", ("uid", "tgid", "total_vm", "rss", "nr_ptes", "nr_pmds", "swapents", "oom_score_adj"),
     (4, 0, 0), (4, 14, 9999)),
    ("4.15-6.7", ("uid", "tgid", "total_vm", "rss", "pgtables_bytes", "swapents", "oom_score_adj"),
     (4, 15, 0), (6, 7, 9999)),
    ("6.8", ("uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes", "swapents",
             "oom_score_adj"), (6, 8, 0), None),
)


def _layout_fits(cols: tuple[str, ...], nums: Sequence[int]) -> bool:
    """Whether a row's numbers can be the kernel's values under these columns (bounds no kernel exceeds)."""
    v = dict(zip(cols, nums))
    if not -1000 <= v.get("oom_score_adj", 0) <= 1000 or not -17 <= v.get("oom_adj", 0) <= 15:
        return False
    if v.get("cpu", 0) >= 8192:   # NR_CPUS is at most 8192 (x86 MAXSMP)
        return False
    vm = v["total_vm"]
    # a page-table page exists only for a range with something mapped: never more of them than mapped pages
    if v.get("nr_ptes", 0) > vm or v.get("nr_pmds", 0) > vm or any(x < 0 for k, x in v.items() if k != "oom_score_adj"
                                                                    and k != "oom_adj"):
        return False
    # 6.8's rss is get_mm_rss(), the sum of the three counters it prints next to it
    return "rss_anon" not in v or v["rss"] == v["rss_anon"] + v["rss_file"] + v["rss_shmem"]


def headerless_numbers(text: str) -> list[int] | None:
    """The numbers after ``[pid]`` of a whole headerless row (before its name), or None."""
    m = _ROW.match(text)
    if m is None:
        return None
    parts = m.group("rest").split()
    nums: list[int] = []
    for tok in parts:
        if not _INT.fullmatch(tok):
            break
        nums.append(int(tok))
    return nums if len(nums) < len(parts) else None


def headerless_layouts(rows: Sequence[Sequence[int]]) -> list[str]:
    """The mainline layouts (:data:`HEADERLESS_LAYOUTS` names) that every headerless row fits, by its count of
    numbers and their bounds."""
    if not rows or len({len(r) for r in rows}) != 1:
        return []
    return [name for name, cols, _lo, _hi in HEADERLESS_LAYOUTS
            if len(cols) == len(rows[0]) and all(_layout_fits(cols, r) for r in rows)]


def parse_dump_tasks(lines: Iterable[str]) -> TaskTable | None:
    """Parse a whole table (normalised lines: optional ``Tasks state`` line, header, rows).
    Convenience for callers holding a table; the streaming parser uses the row functions."""
    columns: tuple[str, ...] | None = None
    state = False
    wide = False
    rows: list[TaskRow] = []
    for i, text in enumerate(lines, 1):
        text = text.strip()
        if text.startswith("Tasks state"):
            state = True
            continue
        cols = parse_dump_tasks_header(text)
        if cols is not None:
            columns, wide = cols, text.startswith("[  pid  ]")
            continue
        row = parse_dump_tasks_row(text, columns, i)
        if row is not None:
            rows.append(row)
    if columns is None and not rows:
        return None
    return TaskTable(variant=table_variant(columns or (), state, wide), columns=columns or (),
                     rows=tuple(rows), tasks_state_line=state, truncated=columns is None)


# ---------------------------------------------------------------------------------------------
# dump_oom_summary()

_SUMMARY_HEAD = re.compile(r"oom-kill:constraint=(?P<constraint>\w++)")
_SUMMARY_TAIL = re.compile(r",pid=(?P<pid>\d++),uid=(?P<uid>\d++)\s*+$")
_MEMS = re.compile(r"[\d,\-]*+")
# keys in printed order; a value runs to the next key found (values may hold commas)
_SUMMARY_KEYS = (",nodemask=", ",cpuset=", ",mems_allowed=", ",global_oom", ",oom_memcg=", ",task_memcg=")
_SUMMARY_CONT = re.compile(r",(?:cpuset=|mems_allowed=|global_oom|oom_memcg=|task_memcg=|task=)")


def parse_oom_summary(text: str, lineno: int = 0, split: bool = False) -> SummaryLine | None:
    """``oom-kill:constraint=..`` (5.0+). Values may contain commas (nodemask ``0-1,3``), so the
    line is matched on its fixed keys, not split on commas."""
    if not text.startswith("oom-kill:"):
        return None
    m = _SUMMARY_HEAD.match(text)
    if m is None:
        return None
    body = text.rstrip()
    task = pid = uid = None
    t = _SUMMARY_TAIL.search(body, m.end())
    if t is not None:
        at = body.find(",task=", m.end(), t.start())
        if at < 0:
            return None
        tm = body.find(",task_memcg=", m.end(), t.start())
        if tm >= 0:   # the task name starts at the first ",task=" after task_memcg
            at2 = body.find(",task=", tm + len(",task_memcg="), t.start())
            at = at2 if at2 >= 0 else at
        task, pid, uid = body[at + len(",task="):t.start()], t.group("pid"), t.group("uid")
        body = body[:at]
    # the head: keys in printed order, found with str.find (linear in the line)
    found: list[tuple[str, int]] = []
    pos = m.end()
    for key in _SUMMARY_KEYS:
        if key == ",oom_memcg=" and found and found[-1][0] == ",global_oom":
            continue
        k = body.find(key, pos)
        if k < 0:
            continue
        if key == ",global_oom" and body[k + len(key):k + len(key) + 1] not in ("", ","):
            continue
        found.append((key, k))
        pos = k + len(key)
    if found and found[0][1] != m.end() or (not found and len(body) != m.end()):
        return None   # something unknown after constraint=
    vals: dict[str, str] = {}
    for i, (key, k) in enumerate(found):
        stop = found[i + 1][1] if i + 1 < len(found) else len(body)
        vals[key] = body[k + len(key):stop]
    if (",cpuset=" in vals) != (",mems_allowed=" in vals) or not _MEMS.fullmatch(vals.get(",mems_allowed=", "")):
        return None
    if vals.get(",global_oom", "") != "":
        return None
    return SummaryLine(constraint=m.group("constraint"), nodemask=vals.get(",nodemask="),
                       cpuset=vals.get(",cpuset="), mems_allowed=vals.get(",mems_allowed="),
                       global_oom=",global_oom" in vals, oom_memcg=vals.get(",oom_memcg="),
                       task_memcg=vals.get(",task_memcg="), task=task,
                       pid=_opt_int(pid, "pid"), uid=_opt_int(uid, "uid"), split=split,
                       lineno=lineno)


# ---------------------------------------------------------------------------------------------
# oom_kill_process() / __oom_kill_process()

_SELECT = re.compile(
    r"(?P<prefix>[^:]*?): (?P<verb>[Kk]ill) process (?P<pid>\d+) \((?P<name>.{0,64})\) score "
    r"(?P<score>-?\d+) (?P<wording>or sacrifice child|or a child|and children)\.?\s*$")
_KILLED = re.compile(
    r"(?:(?P<prefix>[^:]*?): )?Killed process (?P<pid>\d+)(?:, UID (?P<uid6>\d+),)? "
    r"\((?P<name>.{0,64})\)(?:, UID (?P<uid7>\d+),)?(?:(?P<dot>\.)|"
    r" (?P<vmkey>total-vm|vsz):(?P<vm>\d+)kB, anon-rss:(?P<anon>\d+)kB, file-rss:(?P<file>\d+)kB"
    r"(?:, shmem-rss:(?P<shmem>\d+)kB)?(?:, UID:(?P<uid>\d+))?(?: pgtables:(?P<pgt>\d+)kB)?"
    r"(?: oom_score_adj:(?P<adj>-?\d+))?)?\s*$")
_SHARING = re.compile(r"Kill process (?P<pid>\d+) \((?P<name>.{0,64})\) sharing same memory\s*$")
_PINNED = re.compile(
    r"oom killer (?P<pid>\d+) \((?P<name>.{0,64}?)\) has mm pinned by (?P<pid2>\d+) \((?P<name2>.{0,64})\)\s*$")
_EXITING = re.compile(
    r"(?:(?P<prefix>[^:]*?): )?OOM victim (?P<pid>\d+) \((?P<name>.{0,64})\) is already exiting\. "
    r"Skip killing the task\s*$")
_OOM_GROUP = re.compile(r"Tasks in (?P<path>.*) are going to be killed due to memory\.oom\.group set\s*$")


# What oom_kill_process() / oom_kill_task() / __oom_kill_process() printed before "Kill process" /
# "Killed process", every era (mm/oom_kill.c), and what each prefix tells:
_PREFIX_KINDS = {
    # 2.6.16-2.6.19: the kill line of a CONSTRAINT_NONE OOM; 2.6.20+: the selection line; 5.1+: the kill line
    "Out of memory": "global",
    # <=2.6.15: every kill line; 2.6.16-2.6.19: every selection line, whatever the constraint
    "Out of Memory": "legacy",
    "Memory cgroup out of memory": "memcg",                          # 2.6.25+
    "Out of memory (oom_kill_allocating_task)": "allocating_task",   # 2.6.24+
    # 2.6.16-2.6.35: an MPOL_BIND allocation killed current (or a child of it) without a badness scan
    "No available memory (MPOL_BIND)": "mempolicy",
    # 2.6.16-2.6.23: likewise for an allocation outside the cpuset's nodes
    "No available memory in cpuset": "cpuset",
}


def _prefix_kind(prefix: str | None) -> str:
    """What a selection / kill line's prefix tells (see :data:`_PREFIX_KINDS`): ``"none"`` without one,
    ``"other"`` for a prefix no kernel printed. Text glued before a kernel prefix (an unstripped log header,
    another console line) is allowed when it ends at a non-alphanumeric character."""
    if prefix is None:
        return "none"
    kind = _PREFIX_KINDS.get(prefix)
    if kind is not None:
        return kind
    for known, kind in _PREFIX_KINDS.items():
        if prefix.endswith(known) and not prefix[-len(known) - 1].isalnum():
            return kind
    return "other"


def parse_oom_kill_process(text: str, lineno: int = 0) -> Any:
    """Lines printed by ``oom_kill_process()`` / ``__oom_kill_process()`` / ``oom_kill_task()``.

    Returns a :class:`SelectionLine` (``Kill process .. score S or sacrifice child`` and older
    wordings), a :class:`KillLine` (every ``Killed process`` form: 2.4, bare, ``vsz:``, RHEL 6
    ``, UID U,``, 2.6.36+, 4.5 shmem, 5.3 UID, 5.4 pgtables/oom_score_adj; with or without the
    ``Out of memory`` / ``Memory cgroup out of memory`` / ``(oom_kill_allocating_task)`` prefix),
    or a tuple ``("sharing", pid, name)``, ``("pinned", pid, name, pid2, name2)``,
    ``("exiting", pid, name, prefix_kind)``, ``("oom_group", path)``; None otherwise. A selection or kill
    line whose prefix no kernel printed (``Out of Memory : Killed process ..`` retyped in a mail) is None."""
    if "Killed process" in text:
        m = _KILLED.match(text)
        if m is None:
            return None
        g = m.group
        prefix = g("prefix")
        kind = _prefix_kind(prefix)
        if kind == "other":
            return None
        if g("vmkey") == "vsz":
            variant = "vsz"
        elif g("uid6") is not None:
            variant = "rhel6"
        elif g("uid7") is not None:
            variant = "rhel7"
        elif g("adj") is not None or g("pgt") is not None:
            variant = "5.4"
        elif g("uid") is not None:
            variant = "5.3"
        elif g("shmem") is not None:
            variant = "4.5"
        elif g("vm") is not None:
            variant = "2.6.36"
        elif g("dot") is not None and kind == "legacy":
            variant = "2.4"
        else:
            variant = "bare"
        uid = next((u for u in (g("uid"), g("uid6"), g("uid7")) if u is not None), None)
        return KillLine(pid=_int(g("pid"), "pid"), name=g("name"), uid=_opt_int(uid),
                        total_vm_kb=_opt_int(g("vm")), anon_rss_kb=_opt_int(g("anon")),
                        file_rss_kb=_opt_int(g("file")), shmem_rss_kb=_opt_int(g("shmem")),
                        pgtables_kb=_opt_int(g("pgt")), oom_score_adj=_opt_int(g("adj")),
                        kind=kind, prefix=prefix, variant=variant, lineno=lineno)
    if "ill process" in text:
        m = _SELECT.match(text)
        if m is not None:
            g = m.group
            kind = _prefix_kind(g("prefix"))
            if kind == "other":
                return None
            return SelectionLine(pid=_int(g("pid"), "pid"), name=g("name"), score=_int(g("score"), "score"),
                                 kind=kind, prefix=g("prefix"), wording=g("wording"), lineno=lineno)
        m = _SHARING.match(text)
        if m is not None:
            return ("sharing", _int(m.group("pid"), "pid"), m.group("name"))
        return None
    if "has mm pinned by" in text:
        m = _PINNED.match(text)
        if m is not None:
            return ("pinned", _int(m.group("pid"), "pid"), m.group("name"), _int(m.group("pid2"), "pid2"),
                    m.group("name2"))
        return None
    if "is already exiting" in text:
        m = _EXITING.match(text)
        if m is not None:
            return ("exiting", _int(m.group("pid"), "pid"), m.group("name"), _prefix_kind(m.group("prefix")))
        return None
    if "memory.oom.group" in text:
        m = _OOM_GROUP.match(text)
        if m is not None:
            return ("oom_group", m.group("path"))
    return None


_REAPED = re.compile(
    r"oom_reaper: reaped process (?P<pid>\d+) \((?P<name>.{0,64})\), now anon-rss:(?P<a>\d+)kB, "
    r"file-rss:(?P<f>\d+)kB(?:, shmem-rss:(?P<s>\d+)kB)?\s*$")
_UNABLE = re.compile(r"oom_reaper: unable to reap pid:\s?(?P<pid>\d+) \((?P<name>.{0,64})\)\s*$")


def parse_oom_reaper(text: str, lineno: int = 0) -> ReaperLine | None:
    """``oom_reaper: reaped process P (x), now anon-rss:..`` or ``.. unable to reap pid:P (x)``."""
    if not text.startswith("oom_reaper:"):
        return None
    m = _REAPED.match(text)
    if m is not None:
        return ReaperLine(pid=_int(m.group("pid"), "pid"), name=m.group("name"), reaped=True,
                          anon_rss_kb=_int(m.group("a"), "a"), file_rss_kb=_int(m.group("f"), "f"),
                          shmem_rss_kb=_opt_int(m.group("s")), lineno=lineno)
    m = _UNABLE.match(text)
    if m is not None:
        return ReaperLine(pid=_int(m.group("pid"), "pid"), name=m.group("name"), reaped=False,
                          anon_rss_kb=None, file_rss_kb=None, shmem_rss_kb=None, lineno=lineno)
    return None


# ---------------------------------------------------------------------------------------------
# mem_cgroup_print_oom_context() / mem_cgroup_print_oom_meminfo()

_TASK_IN = re.compile(r"Task in (?P<task>.*) killed as a result of limit of (?P<oom>.*)")
_USAGE = re.compile(
    r"(?P<which>memory|memory\+swap|swap|kmem|kmem\.tcp|tcpmem): usage (?P<usage>\d+)kB, "
    r"limit (?P<limit>\d+)kB, failcnt (?P<failcnt>\d+)\s*$")
_STATS = re.compile(r"Memory cgroup stats for (?P<path>.*?):(?P<rest>.*)$")
_STAT_KV_INLINE = re.compile(r"(?<![a-z_])([a-z_]++):(\d++)KB")
_MEMCG_KV = re.compile(r"([a-z][a-z0-9_]*) (\d+)$")


def parse_mem_cgroup_print_oom_info(text: str) -> tuple[Any, ...] | None:
    """Memcg report lines: ``("task_in", task_memcg, oom_memcg)``, ``("usage", which, usage_kb,
    limit_kb, failcnt)`` (which: memory, memory+swap, swap, kmem), ``("stats", path,
    ((key, value), ...))`` with the inline 3.9-5.2 ``key:NKB`` pairs (empty for the 5.3+ form
    whose ``key value`` lines follow), or None."""
    c = text[:1]
    if c == "T" and text.startswith("Task in "):
        m = _TASK_IN.match(text)
        return ("task_in", m.group("task"), m.group("oom").rstrip()) if m else None
    if c in "mskt" and ": usage " in text:
        m = _USAGE.match(text)
        if m:
            return ("usage", m.group("which"), _int(m.group("usage"), "usage"), _int(m.group("limit"), "limit"),
                    _int(m.group("failcnt"), "failcnt"))
        return None
    if c == "M" and text.startswith("Memory cgroup stats for "):
        m = _STATS.match(text)
        if m:
            pairs = tuple((k, _int(v)) for k, v in _STAT_KV_INLINE.findall(m.group("rest")))
            return ("stats", m.group("path"), pairs)
    return None


# ---------------------------------------------------------------------------------------------
# show_mem()

_PAGES = re.compile(r"(?P<n>\d+) pages (?P<what>RAM|reserved|HighMem/MovableOnly|HighMem|"
                    r"MovableOnly|cma reserved|hwpoisoned|shared|non-shared|in swap cache)\s*$")
# 2.6.1x-2.6.2x arch show_mem(): "N pages of RAM", "N pages of HIGHMEM", "N reserved pages"
_PAGES_OLD = re.compile(r"(?P<n>\d+) (?:pages of (?P<of>RAM|HIGHMEM)|(?P<res>reserved) pages)\s*$")
_PAGECACHE = re.compile(r"(?P<n>\d+) total pagecache pages\s*$")
_SWAPKB = re.compile(r"(?P<what>Free|Total) swap\s*[=:]\s*(?P<n>-?\d+)kB\s*$")
_ZONE = re.compile(r"(?:Node (?P<node>\d+) )?(?P<zone>DMA32|DMA|Normal|HighMem|Movable|Device)"
                   r" free:(?P<free>\d+)kB(?P<rest>.*)$")
_ZONE_FIELD = re.compile(r" (min|low|high|present|managed):(\d+)kB")
_VMSTAT = re.compile(r"(?:[A-Za-z_]++:\s?+-?\d++\s*+)++$")
_VMSTAT_PAIR = re.compile(r"([A-Za-z_]+):\s?(-?\d+)")
# show_free_areas()'s buddy lists: "%lu*%lukB " with K(1UL) << order, order 0 first: the first size is the page size
_BUDDY = re.compile(r"(?:Node \d+ )?(?:DMA32|DMA|Normal|HighMem|Movable|Device): \d+\*(?P<kb>\d+)kB ")
_MEMINFO_MISC = re.compile(
    r"(?:(?:Node \d+ )?(?:DMA32|DMA|Normal|HighMem|Movable|Device)(?: per-cpu:|: .*= \d+kB)"
    r"|CPU\s+\d+: (?:Hot: )?hi:\s*\d+, btch:\s*\d+ usd:\s*\d+.*"
    r"|lowmem_reserve\[\]:[\d ]*+"
    r"|Node \d+ hugepages_total=.*"
    r"|Node \d+ active_anon:.*"
    r"|Swap cache(?: stats)?: .*"
    r"|\d+ pages (?:swap cached|dirty|writeback|mapped|slab|pagetables)"
    r"|Unreclaimable slab info:"
    r"|Name\s+Used\s+Total"
    r"|\S+\s+\d+KB\s+\d+KB"
    r"|\d+ pages (?:in swap cache|shared|non-shared)"
    r")\s*$")


def parse_show_mem(text: str) -> tuple[Any, ...] | None:
    """``show_mem()`` lines: ``("header",)`` for ``Mem-Info:``, ``("pages", what, n)``,
    ``("pagecache", n)``, ``("swap_kb", "Free"|"Total", n)``, ``("zone", ZoneInfo)``,
    ``("vmstat", ((key, value), ...))`` for the ``key:value`` summary lines, ``("buddy", page_kb)`` for a
    zone's buddy list (its first, order-0 block size is the page size), ``("misc",)`` for other block lines
    (per-cpu, lowmem_reserve, hugepages, swap cache stats)."""
    c = text[:1]
    if c == "M" and (text == "Mem-Info:" or text == "Mem-info:"):
        return ("header",)
    if c.isdigit():
        m = _PAGES.match(text)
        if m:
            return ("pages", m.group("what"), _int(m.group("n"), "n"))
        m = _PAGES_OLD.match(text)
        if m:
            what = "reserved" if m.group("res") else ("RAM" if m.group("of") == "RAM" else "HighMem")
            return ("pages", what, _int(m.group("n"), "n"))
        m = _PAGECACHE.match(text)
        if m:
            return ("pagecache", _int(m.group("n"), "n"))
    if c in "FT" and " swap" in text:
        m = _SWAPKB.match(text)
        if m:
            return ("swap_kb", m.group("what"), _int(m.group("n"), "n"))
    if " free:" in text:
        m = _ZONE.match(text)
        if m:
            f = dict(_ZONE_FIELD.findall(m.group("rest")))
            return ("zone", ZoneInfo(node=_opt_int(m.group("node")), zone=m.group("zone"),
                                     free_kb=_int(m.group("free"), "free"), min_kb=_opt_int(f.get("min")),
                                     low_kb=_opt_int(f.get("low")), high_kb=_opt_int(f.get("high")),
                                     present_kb=_opt_int(f.get("present")),
                                     managed_kb=_opt_int(f.get("managed"))))
    m = _BUDDY.match(text)
    if m:
        return ("buddy", _int(m.group("kb"), "kb"))
    if _MEMINFO_MISC.match(text):
        return ("misc",)
    if ":" in text and _VMSTAT.match(text):
        return ("vmstat", tuple((k, _int(v)) for k, v in _VMSTAT_PAIR.findall(text)))
    return None


# ---------------------------------------------------------------------------------------------
# Lines cut short (terminal / editor width, a paste that stops mid-line, the line cap)
#
# A cut line keeps the fields it shows whole; the field it was cut in, and every later one, are
# unknown (None). A field is whole when something the format prints after it follows it (a
# number followed by "kB", a name by ")"); a number that ends the visible text is whole only when
# no digit can follow it (``0``, or an oom_score_adj of 101..1000) or when the format may end
# there and nothing says the line went on. Each format is walked as the kernel's printk format:
# ("lit", text) literals, ("int", field, bound) numbers, ("name", field) a comm in parentheses,
# ("end",) where a format of some era may end.

CUT_EOF = "the input ends inside it, without a newline"
CUT_CAP = "it is longer than the 1 MiB line cap"
CUT_MARKS = ("\u2026", "...", ">", "$", "\\", "+")
"""Marks a terminal, pager or editor puts where it cut or wrapped a long line."""


class Cut(NamedTuple):
    """A payload parsed from a line that was cut short. ``note`` names the line's format and the
    first field lost (None when the line was flagged as cut but turned out whole); ``flag`` is 1
    when the line may have been cut (end of input), 2 when it surely went on (a wrap mark, the
    line cap). Task-table rows carry their text as payload: the row is parsed with its header."""

    payload: Any
    note: str | None
    flag: int = 2
    how: str = ""


_Step = tuple[Any, ...]
_NUM = re.compile(r"-?\d+")
_U64 = 0
_ADJ = 1000


def _whole_at_end(v: str, bound: int) -> bool:
    """Whether a number that ends the visible text cannot have lost digits."""
    digits = v.lstrip("-")
    if digits == "0":
        return True
    return bound > 0 and len(digits) <= 6 and int(digits) * 10 > bound


def _next_field(steps: list[_Step], i: int) -> str | None:
    for st in steps[i:]:
        if st[0] in ("int", "name"):
            return str(st[1])
        if st[0] == "lit" and len(st) > 2:
            return str(st[2])
    return None


_WalkResult = tuple[dict[str, str], str | None]


def _walk(text: str, pos: int, steps: list[_Step], flag: int, i: int = 0) -> _WalkResult | None:
    """Walk ``steps`` over ``text`` from ``pos``: (whole values, first field lost or None), or None
    when the text is not this format."""
    vals: dict[str, str] = {}
    n = len(text)
    while i < len(steps):
        st = steps[i]
        op = st[0]
        if op == "end":
            if pos == n:
                return vals, (_next_field(steps, i) if flag >= 2 else None)
            i += 1
            continue
        if pos == n:
            return vals, _next_field(steps, i)
        if op == "lit":
            lit = st[1]
            if text.startswith(lit, pos):
                pos += len(lit)
                i += 1
                continue
            if n - pos < len(lit) and lit.startswith(text[pos:]):
                return vals, _next_field(steps, i)
            return None
        if op == "int":
            m = _NUM.match(text, pos)
            if m is None:
                return (vals, st[1]) if text[pos:] == "-" else None
            v = m.group()
            if m.end() == n:
                may_end = i + 1 < len(steps) and steps[i + 1][0] == "end"
                if not (_whole_at_end(v, st[2]) or (may_end and flag == 0)):
                    return vals, st[1]
            vals[st[1]] = v
            pos = m.end()
            i += 1
            continue
        # ("name", field): a comm in parentheses, "(" already read; it ends at a ")" after
        # which the rest of the format fits (the last such ")" within 64 characters)
        stop = min(n, pos + 65)
        j = text.rfind(")", pos, stop)
        while j >= 0:
            sub = _walk(text, j + 1, steps, flag, i + 1)
            if sub is not None:
                vals[st[1]] = text[pos:j]
                vals.update(sub[0])
                return vals, sub[1]
            j = text.rfind(")", pos, j)
        if n - pos <= 64 and ")" not in text[pos:]:
            return vals, st[1]
        return None
    return (vals, None) if pos == n else None


def _best(text: str, pos: int, alts: list[list[_Step]], flag: int) -> tuple[_WalkResult, int] | None:
    """The alternative (era) that fits best: a whole line unless the line surely went on; then
    the one that read the most fields. Returns (result, how many alternatives fit)."""
    res = [r for r in (_walk(text, pos, a, flag) for a in alts) if r is not None]
    if not res:
        return None
    res.sort(key=lambda r: ((r[1] is not None) == (flag >= 2), len(r[0])), reverse=True)
    return res[0], len(res)


_KILL_TAIL: list[_Step] = [
    ("lit", " total-vm:", "total-vm"), ("int", "vm", _U64), ("lit", "kB, anon-rss:", "anon-rss"),
    ("int", "anon", _U64), ("lit", "kB, file-rss:", "file-rss"), ("int", "file", _U64), ("lit", "kB"),
    ("end",), ("lit", ", shmem-rss:", "shmem-rss"), ("int", "shmem", _U64), ("lit", "kB"), ("end",),
    ("lit", ", UID:", "UID"), ("int", "uid", _U64), ("end",), ("lit", " pgtables:", "pgtables"),
    ("int", "pgt", _U64), ("lit", "kB oom_score_adj:", "oom_score_adj"), ("int", "adj", _ADJ), ("end",)]
_KILL_ALTS: list[list[_Step]] = [
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), ("lit", "."), ("end",)],
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), ("end",)],
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), ("lit", " vsz:", "vsz"),
     ("int", "vsz", _U64), ("lit", "kB, anon-rss:", "anon-rss"), ("int", "anon", _U64),
     ("lit", "kB, file-rss:", "file-rss"), ("int", "file", _U64), ("lit", "kB"), ("end",)],
    [("int", "pid", _U64), ("lit", ", UID ", "UID"), ("int", "uid6", _U64), ("lit", ", (", "name"),
     ("name", "name"), *_KILL_TAIL[:8]],
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), *_KILL_TAIL],
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), ("lit", ", UID ", "UID"), ("int", "uid7", _U64),
     ("lit", ",", "UID"), *_KILL_TAIL[:12]],
]
_FIELD_NAMES = {"vm": "total-vm", "anon": "anon-rss", "file": "file-rss", "shmem": "shmem-rss",
                "uid": "UID", "pgt": "pgtables", "adj": "oom_score_adj", "uid6": "UID", "uid7": "UID"}


def _kill_variant(v: dict[str, str], text: str) -> str:
    """The earliest kill-line format the visible part proves (``cut`` when it proves none)."""
    if "uid6" in v:
        return "rhel6"
    if "uid7" in v:
        return "rhel7"
    if " pgtables:" in text:
        return "5.4"
    if ", UID:" in text:
        return "5.3"
    if ", shmem-rss:" in text:
        return "4.5"
    if " vsz:" in text:
        return "vsz"
    if " total-vm:" in text:
        return "2.6.36"
    return "cut"


def _cut_kill(text: str, lineno: int, flag: int, how: str) -> tuple[str, Any] | None:
    at = text.find("Killed process ")
    if at < 0 or (at > 0 and not text.endswith(": ", 0, at)):
        return None
    r = _best(text, at + len("Killed process "), _KILL_ALTS, flag)
    if r is None:
        return None
    (v, lost), _n = r
    prefix = text[:at - 2] if at else None
    kind = _prefix_kind(prefix)
    if kind == "other":
        return None   # no kernel printed that prefix: not a kill line, cut or not
    if lost is None:
        if "." in text[-1:] and kind == "legacy":
            variant = "2.4"
        elif "vm" in v or "vsz" in v:
            variant = _kill_variant(v, text)
        else:
            variant = "bare"
        note = None
    else:
        variant = _kill_variant(v, text)
        note = (f"line {lineno}: 'Killed process' line cut short ({how}): {_FIELD_NAMES.get(lost, lost)} and "
                f"what follows unknown")
    if "pid" not in v:
        return None   # cut in its pid: nothing to name (a wrapped record is joined to its rest)
    vm = v.get("vm", v.get("vsz"))
    uid = v.get("uid", v.get("uid6", v.get("uid7")))
    kl = KillLine(pid=_int(v["pid"], "pid"), name=v.get("name"), uid=_opt_int(uid),
                  total_vm_kb=_opt_int(vm), anon_rss_kb=_opt_int(v.get("anon")),
                  file_rss_kb=_opt_int(v.get("file")), shmem_rss_kb=_opt_int(v.get("shmem")),
                  pgtables_kb=_opt_int(v.get("pgt")), oom_score_adj=_opt_int(v.get("adj")),
                  kind=kind, prefix=prefix, variant=variant, lineno=lineno, cut=lost is not None)
    return Kind.KILLED, Cut(kl, note, flag, how)


_WORDINGS = ("or sacrifice child", "or a child", "and children")
_SELECT_ALTS: list[list[_Step]] = [
    [("int", "pid", _U64), ("lit", " (", "name"), ("name", "name"), ("lit", " score ", "score"),
     ("int", "score", _U64), ("lit", " " + w, "wording"), ("end",), ("lit", "."), ("end",)]
    for w in _WORDINGS]
_SELECT_HEAD = re.compile(r"(?P<prefix>[^:]*?): [Kk]ill process ")


def _cut_select(text: str, lineno: int, flag: int, how: str) -> tuple[str, Any] | None:
    m = _SELECT_HEAD.match(text)
    if m is None or " sharing same memory" in text or _prefix_kind(m.group("prefix")) == "other":
        return None
    results = [(w, r) for w, a in zip(_WORDINGS, _SELECT_ALTS) if (r := _walk(text, m.end(), a, flag)) is not None]
    if not results:
        return None
    results.sort(key=lambda wr: len(wr[1][0]), reverse=True)
    wording_known = len(results) == 1 or results[0][1][1] is None
    wording, (v, lost) = results[0]
    if lost == "wording" and wording_known:
        lost = None   # the wording is a fixed text: one that fits is whole
    if "pid" not in v:
        return None   # cut in its pid: nothing to name (a wrapped record is joined to its rest)
    note = (None if lost is None else
            f"line {lineno}: selection line cut short ({how}): {lost} and what follows unknown")
    sel = SelectionLine(pid=_int(v["pid"], "pid"), name=v.get("name"), score=_opt_int(v.get("score")),
                        kind=_prefix_kind(m.group("prefix")), prefix=m.group("prefix"),
                        wording=wording if wording_known else None, lineno=lineno)
    return Kind.SELECT, Cut(sel, note, flag, how)


_USAGE_HEAD = re.compile(r"(?P<which>memory\+swap|memory|swap|kmem\.tcp|kmem|tcpmem): usage ")
_USAGE_STEPS: list[_Step] = [("int", "usage", _U64), ("lit", "kB, limit ", "limit"), ("int", "limit", _U64),
                             ("lit", "kB, failcnt ", "failcnt"), ("int", "failcnt", _U64), ("end",)]


def _cut_usage(text: str, lineno: int, flag: int, how: str) -> tuple[str, Any] | None:
    m = _USAGE_HEAD.match(text)
    if m is None:
        return None
    r = _walk(text, m.end(), _USAGE_STEPS, flag)
    if r is None:
        return None
    v, lost = r
    note = (None if lost is None else
            f"line {lineno}: memcg '{m.group('which')}: usage' line cut short ({how}): {lost} and what "
            f"follows unknown")
    return Kind.MEMCG_USAGE, Cut(("usage", m.group("which"), _opt_int(v.get("usage")), _opt_int(v.get("limit")),
                                  _opt_int(v.get("failcnt"))), note, flag, how)


_TOTAL_TAILS = ("pages RAM", "pages reserved", "pages HighMem/MovableOnly", "pages MovableOnly",
                "pages cma reserved", "pages hwpoisoned", "pages shared", "pages non-shared",
                "pages in swap cache", "total pagecache pages", "pages of RAM", "pages of HIGHMEM",
                "reserved pages")
_SWAP_CUT = re.compile(r"(?P<what>Free|Total) swap\s*+(?:[=:]\s*+-?\d*+k?)?")
_DIGITS = re.compile(r"\d++ ")


def _cut_meminfo(text: str, lineno: int, flag: int, how: str) -> tuple[str, Any] | None:
    """``N pages RAM`` / ``Total swap = NkB`` totals cut short: no value of them is used."""
    c = text[:1]
    if c.isdigit():
        m = _DIGITS.match(text)
        if m is None or (flag and (_PAGES.match(text) or _PAGES_OLD.match(text) or _PAGECACHE.match(text))):
            return None   # whole (it ends with its last word)
        rest = text[m.end():]
        if not any(t.startswith(rest) and t != rest for t in _TOTAL_TAILS):
            return None
        what = "Mem-Info total"
    elif c in "FT":
        m = _SWAP_CUT.fullmatch(text)
        if m is None or (flag and _SWAPKB.match(text)):
            return None
        what = f"'{m.group('what')} swap'"
    else:
        return None
    return Kind.MEMINFO, Cut(("misc",), f"line {lineno}: {what} line cut short ({how}): its value unknown",
                             flag, how)


def _cut_summary(text: str, lineno: int, flag: int, how: str, whole: SummaryLine | None) -> tuple[str, Any] | None:
    """``oom-kill:constraint=..`` cut short: the values read up to the last key shown are whole,
    that last value and every later one unknown."""
    if not text.startswith("oom-kill:"):
        return None
    if whole is not None and whole.pid is not None:
        u = text.rstrip().rsplit("=", 1)[-1]
        if flag == 0 or (flag == 1 and _whole_at_end(u, 0)):
            return None
        return Kind.SUMMARY, Cut(replace(whole, uid=None),
                                 f"line {lineno}: oom-kill: summary line cut short ({how}): uid unknown", flag, how)
    head = "oom-kill:constraint="
    if not text.startswith(head) and head.startswith(text):
        return None
    m = _SUMMARY_HEAD.match(text)
    keys = _SUMMARY_KEYS + (",task=", ",pid=", ",uid=")
    found: list[tuple[str, int]] = []
    pos = len(head)
    for key in keys:
        if key == ",oom_memcg=" and found and found[-1][0] == ",global_oom":
            continue
        k = text.find(key, pos)
        if k < 0:
            continue
        found.append((key, k))
        pos = k + len(key)
    vals: dict[str, str | None] = {}
    for i, (key, k) in enumerate(found):
        stop = found[i + 1][1] if i + 1 < len(found) else len(text)
        vals[key] = text[k + len(key):stop] if i + 1 < len(found) else None
    if m is None or (found and found[0][1] != m.end()):
        constraint = None
        lost = "constraint"
    else:
        constraint = m.group("constraint") if found else None
        lost = found[-1][0].strip(",=") if found else "constraint"
    global_oom: bool | None = True if ",global_oom" in vals else (False if ",oom_memcg=" in vals else None)
    if ",global_oom" in vals and vals[",global_oom"] is None:
        lost = "oom_memcg/task_memcg"
    pid = vals.get(",pid=")
    s = SummaryLine(constraint=constraint, nodemask=vals.get(",nodemask="), cpuset=vals.get(",cpuset="),
                    mems_allowed=vals.get(",mems_allowed="), global_oom=global_oom,
                    oom_memcg=vals.get(",oom_memcg="), task_memcg=vals.get(",task_memcg="),
                    task=vals.get(",task="), pid=_opt_int(pid, "pid") if pid and pid.isascii() and pid.isdigit() else None,
                    uid=None, split=False, lineno=lineno)
    return Kind.SUMMARY, Cut(s, f"line {lineno}: oom-kill: summary line cut short ({how}): {lost} and what "
                             f"follows unknown", flag, how)


def cut_mark(text: str) -> str | None:
    """The wrap mark a line ends with, if any."""
    for m in CUT_MARKS:
        if text.endswith(m):
            return m
    return None


def _classify_cut(text: str, lineno: int, flag: int, how: str, kind: str, payload: Any) -> tuple[str, Any] | None:
    """Re-read a line flagged as cut (``flag``), or an OOM line that did not parse, as a cut line of
    its format; None when it is none of the formats handled here."""
    c = text[:1]
    if c == "[":
        if kind == Kind.TABLE_ROW or (flag and _ROW.match(text)):
            return Kind.TABLE_ROW, Cut(text, None, flag, how)
        return None
    if c == "o":
        if text.startswith("oom-kill:"):
            return _cut_summary(text, lineno, flag, how, payload if kind == Kind.SUMMARY else None)
        return None
    if "Killed process " in text:
        return _cut_kill(text, lineno, flag, how)
    if "ill process " in text:
        return _cut_select(text, lineno, flag, how)
    if c in "mskt" and ": usage " in text:
        return _cut_usage(text, lineno, flag, how)
    return _cut_meminfo(text, lineno, flag, how)


# ---------------------------------------------------------------------------------------------
# classify()

_SYSRQ = re.compile(r"(?:sysrq|SysRq) ?: (?:Manual OOM execution|Trigger OOM)")
_PANIC = re.compile(r"Kernel panic - not syncing: (?P<msg>.*)")
INIT_PANIC = "Attempted to kill init!"
"""The panic ``do_exit()`` of global init prints (``exitcode=0x..`` follows). Any death of init prints it, so
:func:`classify` calls the line noise; after an OOM kill of pid 1 (a ``memory.oom.group`` that held init, an old
kernel's kill of ``current``) the assembler makes it that report's outcome."""
INIT_PANIC_LINE = "Kernel panic - not syncing: " + INIT_PANIC
# Functions whose printk ratelimit hides OOM lines (2.6.x used the global printk_ratelimit(),
# reported as "__ratelimit").
_OOM_RATELIMITERS = frozenset({"oom_kill_process", "dump_header", "out_of_memory", "__ratelimit",
                               "__oom_kill_process", "mem_cgroup_out_of_memory", "dump_tasks"})
_RATELIMIT = re.compile(r"(?P<fn>\S+): (?P<n>\d+) callbacks suppressed\s*$")
_PARTIAL_WORDS = ("Killed process", "invoked oom-killer", "ill process", "oom-kill:constraint",
                  "oom_reaper:", "Task in ", "killed as a result of limit")


_EVIDENCE_WORDS = ("Killed process", "ill process", "oom-killer:", "oom-kill:", "OOM victim",
                   "oom_reaper:", "Task in ")


def classify(text: str, lineno: int = 0, cut: str | None = None) -> tuple[str, Any]:
    """``(kind, payload)`` for one normalised kernel message; see :class:`Kind`. Never raises:
    a line whose numbers no kernel prints is ``(Kind.UNUSABLE, (why, is_oom_line))``.

    A line of a parsed format that is cut short (it stops inside or right after a field that is
    not its format's last, it ends with a wrap mark of :data:`CUT_MARKS`, or ``cut`` says so:
    :data:`CUT_EOF`, :data:`CUT_CAP`) gets a :class:`Cut` payload: its whole fields, None for the
    rest, and a note naming the line and the first field lost."""
    try:
        kind, payload = _classify(text, lineno)
        flag = (1 if cut == CUT_EOF else 2) if cut else 0
        how = cut or "it stops mid-field"
        mark = cut_mark(text)
        if mark is not None and not (mark == "+" and kind == Kind.TABLE_ROW and not text[-2:-1].isdigit()):
            flag, how = 2, f"it ends with the wrap mark {mark!r}"
            body = text[:-len(mark)].rstrip()
        else:
            body = text
        if (flag or kind == Kind.PARTIAL or (kind == Kind.SUMMARY and payload.pid is None)
                or (kind == Kind.NOISE and (text[:1].isdigit() or ": usage " in text
                                            or text.startswith(("Free swap", "Total swap"))))):
            r = _classify_cut(body, lineno, flag, how, kind, payload)
            if r is not None:
                return r
        return kind, payload
    except Unusable as e:
        return Kind.UNUSABLE, (str(e), any(w in text for w in _EVIDENCE_WORDS))


# A line that only says lines were left out here: "...", "…", "(...snipped...)", "<...snip...>", "[snip]"
_ELIDED = re.compile(r"[(<\[]?(?:\.{3,}|…) ?(?:snip(?:ped)?)?(?: ?(?:\.{2,}|…))?[)>\]]?|[(<\[]snip(?:ped)?[)>\]]")


def _classify(text: str, lineno: int) -> tuple[str, Any]:
    if not text:
        return Kind.NOISE, None
    c = text[0]
    if c in ".(<[…s" and len(text) <= 24 and _ELIDED.fullmatch(text):
        return Kind.ELIDED, None
    # Most specific first; cheap substring tests guard every regex.
    if "oom" in text:
        if "oom-killer:" in text:
            inv = parse_dump_header(text, lineno)
            if inv is not None:
                return Kind.INVOKED, inv
        elif c == "o":
            if text.startswith("oom_reaper:"):
                r = parse_oom_reaper(text, lineno)
                return (Kind.REAPER, r) if r is not None else (Kind.PARTIAL, None)
            if text.startswith("oom-kill:"):
                s = parse_oom_summary(text, lineno)
                return (Kind.SUMMARY, s) if s is not None else (Kind.PARTIAL, None)
    if ("rocess" in text or "memory.oom.group" in text or "has mm pinned" in text
            or "already exiting" in text):
        k = parse_oom_kill_process(text, lineno)
        if k is not None:
            if isinstance(k, KillLine):
                return Kind.KILLED, k
            if isinstance(k, SelectionLine):
                return Kind.SELECT, k
            return {"sharing": Kind.SHARING, "pinned": Kind.PINNED, "exiting": Kind.EXITING,
                    "oom_group": Kind.OOM_GROUP}[k[0]], k
    if c == "[":
        cols = parse_dump_tasks_header(text) or parse_patched_tasks_header(text)
        if cols is not None:
            return Kind.TABLE_HEADER, (cols, text.startswith("[  pid  ]"))
        if text[1:2] in " -0123456789":
            m = _ROW.match(text)
            if m is not None or _ROW_PID_ONLY.fullmatch(text):   # (a row cut short after or inside its pid)
                return Kind.TABLE_ROW, text
        fn = frame_function(text)
        if fn is not None:
            return Kind.TRACE, fn
        if _RAW_FRAME.match(text):
            return Kind.TRACE, None
        return Kind.NOISE, None
    if c == "C" and text.startswith("CPU: ") and (" PID: " in text or "ainted" in text):
        cpu = parse_dump_stack_print_info(text, lineno)
        if cpu is not None:
            return Kind.CPU, cpu
    if c == "P" and text.startswith("Pid: "):
        cpu = parse_dump_stack_print_info(text, lineno)
        if cpu is not None:
            return Kind.CPU, cpu
    if c == "T" and text.startswith("Tasks state"):
        return Kind.TASKS_STATE, None
    if "mems_allowed=" in text:
        cs = parse_cpuset_print_current_mems_allowed(text)
        if cs is not None:
            return Kind.CPUSET, cs
    if c == "," and _SUMMARY_CONT.match(text):
        return Kind.SUMMARY_CONT, text
    if _REGS.match(text):
        return Kind.TRACE, None
    mc = parse_mem_cgroup_print_oom_info(text)
    if mc is not None:
        if mc[0] == "task_in":
            return Kind.TASK_IN, mc
        if mc[0] == "usage":
            return Kind.MEMCG_USAGE, mc
        return Kind.MEMCG_STATS, mc
    sm = parse_show_mem(text)
    if sm is not None:
        return (Kind.VMSTAT, sm) if sm[0] == "vmstat" else (Kind.MEMINFO, sm)
    if "of memory" in text or "on memory" in text:
        if text.startswith("Out of memory and no killable processes"):
            return Kind.NO_KILLABLE, None
    if c == "K" and text.startswith("Kernel panic - not syncing: "):
        m = _PANIC.match(text)
        msg = m.group("msg").rstrip() if m else ""
        if "emory" in msg or "oom" in msg:
            return Kind.PANIC, msg
        return Kind.NOISE, None   # (init's death panic is noise here: events.py gives it to a report that killed 1)
    if text == "--":
        return Kind.GREP_SEP, None
    if "callbacks suppressed" in text:
        m = _RATELIMIT.match(text)
        if m and m.group("fn") in _OOM_RATELIMITERS:
            return Kind.RATELIMIT, (m.group("fn"), _int(m.group("n"), "n"))
    if "ys" in text and "OOM" in text and _SYSRQ.search(text):
        return Kind.SYSRQ, None
    fn = frame_function(text)
    if fn is not None:
        return Kind.TRACE, fn
    if text.startswith(_TRACE_WORDS) or _HEXSTACK.match(text):
        last = text.rsplit(None, 1)[-1]
        return Kind.TRACE, (last if last in OOM_FRAMES else None)
    m = _MEMCG_KV.match(text)
    if m is not None:
        return Kind.MEMCG_KV, (m.group(1), _int(m.group(2)))
    if any(w in text for w in _PARTIAL_WORDS):
        return Kind.PARTIAL, None
    if c in "MO" and "ut of memory" in text and cut_oom_head(text) is not None:
        return Kind.PARTIAL, None   # (joined with the line a mail client wrapped its rest onto, else noted)
    return Kind.NOISE, None


_REAPER_HEAD = "oom_reaper: reaped process "
_CUT_REAPER_REST = re.compile(r"\d++(?: (?:\([^)]*+\)?(?:,(?: .*)?)?)?)?$")


def cut_reaper(text: str) -> bool:
    """Whether ``text`` is an ``oom_reaper: reaped process N (name), now ...`` line cut short (what is left fits it)."""
    if not text.startswith("oom_reaper:"):
        return False
    if _REAPER_HEAD.startswith(text):
        return True
    return text.startswith(_REAPER_HEAD) and _CUT_REAPER_REST.match(text, len(_REAPER_HEAD)) is not None


_CUT_HEADS = ("Memory cgroup out of memory:", "Out of memory (oom_kill_allocating_task):", "Out of memory:")


def cut_oom_head(text: str) -> str | None:
    """Why ``text`` is an OOM line cut short before its pid (``Memory cgroup out of memory:`` and no more: the
    selection or kill line of an OOM, the rest lost), else None."""
    for head in _CUT_HEADS:
        if text.startswith(head):
            rest = text[len(head):]
            if not rest.strip() or any((" " + w).startswith(rest) for w in ("Kill process ", "Killed process ")):
                return "cut short before its pid (the selection or kill line of an OOM kill; who was chosen is lost)"
            return None
    return None


MAX_DIGITS = 20
"""No kernel number is longer: u64 max is 20 digits (longer ones are corruption or hostile input,
and Python refuses int() of 4,300+ digits)."""


class Unusable(ValueError):
    """A field of a line holds a number no kernel prints (too long): the line cannot be used.
    :func:`classify` turns it into ``Kind.UNUSABLE``; nothing raises past this module."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(f"{field} {text[:24]}{'...' if len(text) > 24 else ''} "
                         f"({len(text)} characters) is not a number a kernel prints")
        self.field = field


def _int(s: str, field: str = "number", base: int = 10) -> int:
    # a kernel prints ASCII digits only: int() would also take "²"-like digits (a ValueError) and Arabic-Indic ones
    if len(s) - (s[:1] in "+-") > (MAX_DIGITS if base == 10 else 16) or not s.isascii():
        raise Unusable(field, s)
    return int(s, base)


def _opt_int(s: str | None, field: str = "number") -> int | None:
    return None if s is None else _int(s, field)
