"""Post-mortem: re-score kernel OOM reports with the model and judge the kernel's choice.

For each :class:`~oomlens.oomreport.model.OomEvent`: pick the era from the *log format* (the printed
release is a hint: vendor kernels backport formats and rules), recover T, turn the task table into
:class:`~oomlens.kernel.types.Task` values, run the model, and give a verdict:

* ``agrees``: the model picks the task the kernel killed;
* ``disagrees``: it picks another, with the most likely cause;
* ``undecidable``: the log lacks what the decision needs (no table, filtered table, legacy inputs...).

State carried across events of the same host (in input order): previous victims (not candidates
again: the kernel skips reaped victims, MMF_OOM_SKIP) and the host's total swap (memcg reports do not
print it). "The same host" only where the input proves it (:func:`host_key`). Pure: standard library only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from oomlens.analysis.domain import recovered_domain
from oomlens.analysis.ranking import Ranking, explain, rank_domain
from oomlens.errors import KernelVersionError
from oomlens.kernel.eras import ERAS, BadnessUnit, Era, badness_pages, era_for, parse_version
from oomlens.kernel.oom_kill import _page_table_pages, badness_terms, mem_cgroup_get_max, oom_adj_to_oom_score_adj, proc_oom_score
from oomlens.kernel.types import LONG_MIN, MemcgLimits, MemInfo, OomConstraint, Task
from oomlens.oomreport.model import MemcgBlock, OomEvent, TaskRow
from oomlens.oomreport.parse import INIT_PANIC, unknown_columns

PAGE_KB = 4
"""kB per page unless the report shows otherwise (:func:`detect_page_kb`)."""
_UNLIMITED_KB = 1 << 52
"""A memcg limit this large (about 4 EiB) is PAGE_COUNTER_MAX: unlimited, whatever the page size."""

Version = tuple[int, int, int]

_RES_COUNTER_LLONG_MAX_KB = ((1 << 63) - 1) >> 10
"""9007199254740991: an unlimited memcg limit as res_counter printed it while RESOURCE_MAX was LLONG_MAX bytes
(3.7 and RHEL 7's 3.10 print it; 3.13 prints the ULLONG_MAX one)."""
_RES_COUNTER_ULLONG_MAX_KB = ((1 << 64) - 1) >> 10
"""18014398509481983: the same once RES_COUNTER_MAX became ULLONG_MAX (3.12/3.13), until page counters (3.19).
(The page counters' 9007199254740988 dates nothing: RHEL/CentOS 7's 3.10 backports them.)"""


# --------------------------------------------------------------------------- era from format

_TABLE_RANGES: dict[str, tuple[Version, Version | None]] = {
    "6.8": ((6, 8, 0), None),
    "4.19": ((4, 19, 0), (6, 7, 9999)),
    "4.15": ((4, 15, 0), (4, 18, 9999)),
    "4.15-6.7": ((4, 15, 0), (6, 7, 9999)),   # headerless rows read as pgtables_bytes (parser's inferred layout)
    "4.0": ((4, 0, 0), (4, 14, 9999)),
    "4.0+nr_puds": ((4, 0, 0), (4, 14, 9999)),
    "3.6": ((3, 6, 0), (3, 19, 9999)),
    "2.6.36": ((2, 6, 36), (3, 5, 9999)),
    "2.6.25": ((2, 6, 25), (2, 6, 35)),
}


_INVOKED_RANGES: dict[str, tuple[Version | None, Version | None]] = {
    "2.6.11": (None, (2, 6, 18)),                     # no comm: 'oom-killer: gfp_mask=0x..'
    "2.6.19-2.6.30": ((2, 6, 19), (2, 6, 30)),        # oomkilladj=
    "2.6.31-2.6.35": ((2, 6, 31), (2, 6, 35)),        # oom_adj= alone
    "2.6.36-3.6": ((2, 6, 36), (3, 6, 9999)),         # oom_adj= and oom_score_adj=
    "3.7-4.4": ((3, 7, 0), (4, 4, 9999)),             # numeric gfp_mask, no flags text
    "4.5+": ((4, 5, 0), None),                        # gfp_mask=0x..(FLAGS), no nodemask= (4.5-4.8, 5.0+)
    "4.9-4.19": ((4, 9, 0), (4, 19, 9999)),           # nodemask=, one space before order=
    "4.10-4.16": ((4, 10, 0), (4, 16, 9999)),         # nodemask=,  two spaces before order=
}
"""The releases each ``invoked oom-killer:`` format (the parser's ``InvokedLine.variant``) was printed by (spec §6.1)."""


def printed_release(ev: OomEvent) -> str | None:
    """The kernel release the report names (its own field, else the ``CPU: ... <release>`` line)."""
    return ev.kernel_release or (ev.cpu.release if ev.cpu is not None else None)


DEADLOCK_PANIC = "System is deadlocked on memory"
"""The panic of a global OOM that found nothing to kill (4.19+: "mm: memcontrol: print proper OOM header when no
eligible victim left"): ``out_of_memory()`` reaches it only when the OOM is neither a memcg one nor sysrq-f's; earlier
kernels panic with the text of the no-killable line."""


def _message_bounds(ev: OomEvent) -> list[tuple[Version, str]]:
    """Lower bounds from messages that later kernels print and that change nothing in the scoring (so a vendor kernel
    that backports one still scores by its own release's rules: a printed release below such a bound wins, see
    :func:`candidate_eras`). Each bound is the lowest release known to print the message, vendor kernels included."""
    out: list[tuple[Version, str]] = []
    if ev.no_killable or ev.panic == DEADLOCK_PANIC:
        what = (f"'{DEADLOCK_PANIC}' panic" if ev.panic == DEADLOCK_PANIC else
                "'Out of memory and no killable processes...' as a line of its own, not the panic's text")
        # mainline 4.19 ("mm: memcontrol: print proper OOM header when no eligible victim left", Johannes Weiner,
        # linux-mm 2018-08-21) made "Out of memory and no killable processes..." a line of its own, followed by the
        # "System is deadlocked on memory" panic unless memcg or sysrq-f (4.19's mm/oom_kill.c, e.g.
        # 0x88888888/linux-4.19-comments); vanilla 4.18 still panics with the no-killable text (Michal Hocko quoting
        # it, LKML 2021-06-08). RHEL 8's 4.18 prints the 4.19 form (Tetsuo Handa quoting 4.18.0-193.51.1.el8's
        # out_of_memory() in that thread): 4.18.
        out.append(((4, 18, 0), f"{what} (4.19+; RHEL 8's 4.18 too)"))
    if ev.oom_group_path is not None:
        # mainline 4.19 (3d8b38eb81ca, memory.oom.group); 4.18 for RHEL 8's 4.18, which carries 4.19's memcg OOM work
        # (the no-killable change above; its oom.group is not verified): the same 4.17-5.0 rules either way
        out.append(((4, 18, 0), "'Tasks in .. are going to be killed due to memory.oom.group set' (4.19+; RHEL 8's "
                                "4.18 may carry it)"))
    if ev.reaped or ev.other_reaped:
        # mainline 4.6 (the oom reaper and its lines, bc448e897b6d: spec §6.5); RHEL/CentOS 7's last kernel
        # (3.10.0-1160: mm/oom_kill.c of tremb1e/linux-3.10.0-1160.el7) has no oom_reaper. A vendor 4.4 that
        # backports it is in the same 4.0-4.6 rules, and a printed release below the bound wins anyway
        out.append(((4, 6, 0), "oom_reaper lines (4.6+)"))
    whole = [k for k in ev.killed if not k.cut]
    if any(k.variant in ("4.5", "5.3", "5.4") for k in whole):
        # mainline 4.5 (eca56ff906bd) added shmem-rss to the kill line; RHEL/CentOS 7's 3.10 prints it too (spec's
        # backport warning): in the mainline form under its 3.6-format table (corpus 037), and 3.10.0-1160.el7's
        # oom_kill_process() with ', UID %d,' after the name ('rhel7', dated on its own): 3.10
        out.append(((3, 10, 0), "kill line with shmem-rss (4.5+; RHEL/CentOS 7's 3.10 too)"))
    return out


def format_range(ev: OomEvent, messages: bool = True) -> tuple[Version, Version | None, list[str]]:
    """The release range the report's *format* allows (strong evidence only), with the reasons. ``messages``: also
    the lower bounds of messages that change nothing in the scoring (:func:`_message_bounds`)."""
    lo: Version = (0, 0, 0)
    hi: Version | None = None
    why: list[str] = []

    def narrow(a: Version | None, b: Version | None, reason: str) -> None:
        nonlocal lo, hi
        if a is not None and a > lo:
            lo = a
        if b is not None and (hi is None or b < hi):
            hi = b
        why.append(reason)

    if ev.table is not None and ev.table.variant in _TABLE_RANGES:
        a, b = _TABLE_RANGES[ev.table.variant]
        narrow(a, b, f"task table of the {ev.table.variant} format")
    if ev.summary is not None and "summary-first" in ev.format_hints:
        narrow((4, 18, 0), (4, 20, 9999), "oom-kill: summary line before the memory state (linux-next 4.18-4.20; "
                                          "5.0 prints it after the task table)")
    elif ev.summary is not None:
        narrow((5, 0, 0), None, "oom-kill: summary line (5.0+)")
    if ev.selection is not None:
        w = (ev.selection.wording or "").lower()
        if "sacrifice" in w:
            narrow((2, 6, 36), (5, 0, 9999), "'score S or sacrifice child' (2.6.36-5.0)")
            if ev.selection.score is not None and 1000 < ev.selection.score and ev.selection.kind != "unchecked":
                narrow((3, 5, 0), None, f"printed score {ev.selection.score} above 1000 (3.5-5.0: points×1000/T; "
                                        "2.6.36-3.4 clamp it to 1000)")
        elif "a child" in w:
            narrow((2, 6, 24), (2, 6, 35), "'score S or a child' (2.6.24-2.6.35)")
        elif "children" in w:
            narrow((2, 6, 19), (2, 6, 23), "'score S and children' (2.6.19-2.6.23)")
    kinds = {k.variant for k in ev.killed}
    if ev.selection is None and kinds & {"5.4", "5.3"} and ev.summary is not None:
        narrow((5, 1, 0), None, "no selection line before 'Killed process' (5.1+)")
    mi = ev.meminfo
    if mi is not None and (mi.pages_shared is not None or mi.pages_non_shared is not None):
        narrow(None, (3, 13, 9999), "'pages shared' Mem-Info lines (show_mem's pfn walk, before 3.14)")
    if "5.4" in kinds:
        narrow((5, 3, 0), None, "kill line with UID:/pgtables:/oom_score_adj: (5.3/5.4+)")
    if "rhel6" in kinds:
        # RHEL 6's 2.6.32 printed 'Killed process N, UID U, (name)' with the 2.6.36 OOM rewrite backported
        # (per-mille badness): its rules are 2.6.36's, whatever the release says
        narrow((2, 6, 36), (3, 1, 9999), "'Killed process N, UID U, (name)' (RHEL 6's 2.6.32, which backports the "
                                         "2.6.36 OOM killer)")
    if "2.4" in kinds and ev.table is None and ev.invoked is None:
        narrow(None, (2, 6, 15), "bare 'Out of Memory: Killed process' line (2.4 / early 2.6)")
    if "rhel7" in kinds:
        narrow((3, 10, 0), (3, 10, 9999), "'Killed process N (x), UID U, total-vm:..' (RHEL/CentOS 7's 3.10)")
    whole = [k for k in ev.killed if not k.cut]
    if any(k.variant == "2.6.36" for k in whole) and not kinds & {"4.5", "5.3", "5.4", "rhel7"}:
        narrow((2, 6, 36), (4, 4, 9999), "kill line with total-vm/anon-rss/file-rss and no shmem-rss (2.6.36-4.4; "
                                         "4.5 added shmem-rss)")
    damaged = any("cut short" in n or "not understood" in n for n in ev.notes)  # a kill line's rest may be lost
    if any(k.variant == "bare" and k.prefix is None for k in whole) and not kinds - {"bare", "cut"} and not damaged:
        narrow(None, (2, 6, 32), "bare 'Killed process N (x)' (up to 2.6.32; 2.6.33 added vsz:)")
    if (not damaged and (hi is None or hi > (5, 0, 9999))   # (said only where it narrows the range)
            and any(k.prefix is None and k.variant not in ("2.4", "cut") for k in whole)):
        narrow(None, (5, 0, 9999), "'Killed process' line without a prefix (up to 5.0; 5.1 prints 'Out of memory: "
                                   "Killed process')")
    if not damaged and any(k.prefix is not None and k.variant == "4.5" for k in whole) and not kinds & {"5.3", "5.4"}:
        narrow((5, 1, 0), (5, 3, 9999), "'Out of memory: Killed process' with shmem-rss and no UID: (5.1 added the "
                                        "prefix, 5.3 or 5.4 the UID)")
    mb = ev.memcg
    limits = set() if mb is None else {mb.limit_kb, mb.memsw_limit_kb, mb.kmem_limit_kb, mb.swap_limit_kb}
    if _RES_COUNTER_LLONG_MAX_KB in limits:
        narrow(None, (3, 12, 9999), f"memcg limit {_RES_COUNTER_LLONG_MAX_KB}kB, res_counter's 'unlimited' of up to "
                                    "3.11/3.12 (LLONG_MAX bytes; then ULLONG_MAX, and page counters from 3.19)")
    if _RES_COUNTER_ULLONG_MAX_KB in limits:
        narrow((3, 12, 0), (3, 18, 9999), f"memcg limit {_RES_COUNTER_ULLONG_MAX_KB}kB, res_counter's 'unlimited' "
                                          "of 3.12/3.13-3.18 (ULLONG_MAX bytes; page counters from 3.19)")
    inv = ev.invoked
    if inv is not None and inv.variant in _INVOKED_RANGES and (inv.variant != "3.7-4.4" or inv.oom_score_adj is not None):
        ia, ib = _INVOKED_RANGES[inv.variant]
        narrow(ia, ib, f"'invoked oom-killer:' line of the {inv.variant} format")
        if inv.variant == "2.6.11" and inv.order is None:
            narrow(None, (2, 6, 15), "'oom-killer: gfp_mask=0x..' without order= (up to 2.6.15; 2.6.16 prints it)")
    if messages:
        for bound, reason in _message_bounds(ev):
            if bound > lo and (hi is None or bound <= hi):  # (said only where it narrows the range)
                narrow(bound, None, reason)
    if lo > (hi or lo):  # contradictory evidence: keep the table's
        if ev.table is not None and ev.table.variant in _TABLE_RANGES:
            lo, hi = _TABLE_RANGES[ev.table.variant]
    return lo, hi, why


def candidate_eras(ev: OomEvent, carried: str | None = None) -> tuple[list[Era], str]:
    """Eras consistent with the report, most likely first, and how they were chosen. ``carried``: the release an
    earlier report of the same host and boot printed, used when this one prints none."""
    lo, hi, why = format_range(ev)
    release = printed_release(ev)
    carried_text = ""
    if release is None and carried:
        release = carried
        carried_text = f"release {carried} printed earlier by this host in the same boot; "
    in_range = [e for e in ERAS if (hi is None or e.first <= hi) and (e.last is None or e.last >= lo)]
    ignored = ""
    if release:
        try:
            v: Version | None = parse_version(release)
        except KernelVersionError:
            v = None
        if v is not None and not 2 <= v[0] <= 99:  # 1.2.3, 100.0, 4294967296.13.0: no Linux printed that
            v = None
            ignored = f"printed release {release[:60]!r} is not a Linux release (ignored); "
        if v is not None:
            era = era_for(v)
            if (v >= lo and (hi is None or v <= hi)) or not why:
                return [era], (carried_text + "its rules") if carried_text else f"printed release {release}"
            slo, shi, swhy = format_range(ev, messages=False)
            if (v >= slo and (shi is None or v <= shi)) or not swhy:
                # only messages of later kernels contradict it: a vendor kernel that backports them scores by its
                # own release's rules (they change nothing in the scoring)
                later = "; ".join(w for w in why if w not in swhy)
                return [era], ((carried_text + "its rules") if carried_text else f"printed release {release}") + (
                    f" (it prints messages of later kernels: {later}; a vendor backport)")
            # a vendor backport: the format wins, the release only orders the candidates
            clamp = lo if v < lo else (hi or lo)
            era = era_for(clamp)
            return [era], (f"{carried_text}release {release} prints the format of {'.'.join(map(str, clamp))}+ "
                           f"({'; '.join(why)}): a vendor backport; scored with {era.name} rules")
    if not in_range:
        in_range = [ERAS[-1]]
    ordered = sorted(in_range, key=lambda e: e.first, reverse=True)
    src = ignored + "format: " + ("; ".join(why) if why else "nothing dates this report; assuming the newest rules")
    if (any(k.variant == "4.5" for k in ev.killed) and ev.table is not None and ev.table.variant == "3.6"
            and len(ordered) > 1):
        # A 4.5+ kill line (shmem-rss) under a task table that 4.0 already replaced (nr_pmds): no mainline
        # kernel printed both. RHEL/CentOS 7 did: its 3.10 kernel backports the kill line. 3.10's rules
        # come first; the later eras the table allows stay as alternatives (a printed score may decide).
        rhel7 = era_for((3, 10, 0))
        ordered = [rhel7] + [e for e in ordered if e is not rhel7]
        src += ("; a 4.5+ kill line under a pre-4.0 table is RHEL/CentOS 7's 3.10 (backported kill line): "
                f"{rhel7.name} rules first")
    return ordered, src


# --------------------------------------------------------------------------- T

@dataclass(slots=True)
class Domain:
    constraint: str
    cgroup: str | None
    meminfo: MemInfo
    memcg: MemcgLimits | None
    totalpages: int | None
    exact: bool
    how: str
    t_range: tuple[int, int] | None = None
    """When T is only bounded (``totalpages`` is the low end): the pages T lies within."""
    at_least: bool = False
    """``totalpages`` is only a lower bound with no upper one the analysis uses: a memcg whose swap room the host's
    swap fills to an amount a memcg report does not print (``how`` says what bounds it)."""


UNKNOWN_CONSTRAINT = "unknown"
"""The constraint of a report that does not show its domain (no summary, Mem-Info, memcg or Task-in line): the
model scores it as CONSTRAINT_NONE, but nothing asserts that it was global."""


_KNOWN_CONSTRAINTS = frozenset({c.value for c in OomConstraint} | {UNKNOWN_CONSTRAINT})


def model_constraint(constraint: str) -> OomConstraint:
    """The constraint the model scores with (an unknown one as CONSTRAINT_NONE). Only for the constraints of
    :data:`_KNOWN_CONSTRAINTS`: an event with another one is undecidable before it is scored."""
    return OomConstraint.NONE if constraint == UNKNOWN_CONSTRAINT else OomConstraint(constraint)


_MAX_NUMNODES = 1 << 10
"""``MAX_NUMNODES`` at its largest (``NODES_SHIFT`` 10, x86-64 and arm64 configs)."""


def _nodes(spec: str | None) -> set[int] | None:
    if not spec or spec in ("(null)", "null"):
        return None
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if re.fullmatch(r"[0-9]+-[0-9]+", part):  # ASCII digits: int() takes others ("²" raises)
            a, b = map(int, part.split("-"))
            if b >= _MAX_NUMNODES or a > b:
                return None  # no kernel has that node (a corrupt or hostile mask: unknown, not a giant set)
            out.update(range(a, b + 1))
        elif part.isascii() and part.isdigit():
            out.add(int(part))
    return out or None


PAGE_KBS = (4, 8, 16, 32, 64, 256)
"""The page sizes (kB) Linux runs with: 4 (x86, most), 8 (sparc64, alpha), 16 / 64 (arm64, ppc64, mips, loongarch,
ia64), 32 (mips), 256 (ppc44x, hexagon)."""

_ARCH_4K = re.compile(r"(?:^|[.\-_+])(?:x86_64|amd64|i[3-6]86|686(?:-pae)?|s390x|v[67]l?\+)(?:$|[.\-_+])")
"""A release string that names an architecture with 4 KiB pages only (x86, s390x, 32-bit ARM: Raspberry Pi's
``-v7+``): ``4.18.0-477.el8.x86_64``, ``6.1.0-13-amd64``, ``3.2.0-4-686-pae``, ``4.14.98-v7+``."""


@dataclass(frozen=True, slots=True)
class PageSize:
    """The page size of the kernel that printed a report (:func:`detect_page_kb`)."""

    kb: int
    """kB per page: the one shown, else 4 (assumed)."""
    known: bool
    """Shown by an exact relation of the report, by its kB values (multiples of 4 only), or by its release's
    architecture; False: assumed."""
    allowed: tuple[int, ...]
    """The sizes the report allows (every kB value it prints with ``K()`` is a whole number of pages)."""
    note: str | None = None


def _kb_values(ev: OomEvent) -> list[int]:
    """The kB values the report prints with ``K()`` (pages << (PAGE_SHIFT - 10)): each a whole number of pages."""
    out: list[int] = []
    for k in ev.killed:
        out += [v for v in (k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) if v]
    for r in ev.reaped:
        out += [v for v in (r.anon_rss_kb, r.file_rss_kb, r.shmem_rss_kb) if v]
    mi = ev.meminfo
    if mi is not None:
        out += [v for v in (mi.total_swap_kb, mi.free_swap_kb) if v]
        for z in mi.zones:
            out += [v for v in (z.free_kb, z.min_kb, z.low_kb, z.high_kb, z.present_kb, z.managed_kb) if v]
    return out


def _exact_kb(kb_value: int | None, pages: int | None) -> int | None:
    """The page size that makes ``kb_value`` kB exactly ``pages`` pages, if it is one of :data:`PAGE_KBS`."""
    if not kb_value or not pages or kb_value % pages:
        return None
    kb = kb_value // pages
    return kb if kb in PAGE_KBS else None


def detect_page_kb(ev: OomEvent) -> PageSize:
    """kB per page, from what the report prints both in kB and in pages, exactly (never from a ratio that is only
    close: the values are read at different moments, so only an exact equality proves a size):

    * the victim's kill line against its task-table row: ``total-vm:`` kB = ``total_vm`` pages (both
      ``mm->total_vm``), and anon + file + shmem rss kB = ``rss`` pages;
    * the zone lines' ``present:`` kB summed against ``N pages RAM`` (show_mem() sums the zones' present pages),
      and their ``free:`` kB summed against Mem-Info's ``free:`` pages;
    * a buddy list's first block size (``N*64kB``: the order-0 block is one page).

    Every value printed with ``K()`` is a whole number of pages, which rules sizes out (one not a multiple of 8
    leaves only 4 KiB); a release naming an x86 / s390x / 32-bit ARM architecture means 4 KiB. Otherwise the size is
    not known: 4 KiB is assumed (``known`` False) and the analysis says so where it matters."""
    found: list[tuple[int, str]] = []
    k = ev.killed[0] if ev.killed else None
    row = (next((r for r in ev.table.rows if r.pid == k.pid), None)
           if ev.table is not None and k is not None else None)
    rss_kb = (k.anon_rss_kb + k.file_rss_kb + (k.shmem_rss_kb or 0)
              if k is not None and k.anon_rss_kb is not None and k.file_rss_kb is not None else None)
    if k is not None and row is not None:
        kb = _exact_kb(k.total_vm_kb, row.total_vm)
        if kb is not None:
            found.append((kb, f"the kill line's total-vm {k.total_vm_kb} kB against {row.total_vm} pages of "
                              f"total_vm in the table"))
        kb = _exact_kb(rss_kb, row.rss)
        if kb is not None:
            found.append((kb, f"the kill line's {rss_kb} kB of rss against {row.rss} pages in the table"))
    elif k is not None and ev.table is not None:
        # the victim is a thread of a row (the kill line names the thread, the row its mm's holder): both sizes of
        # the kill line equal to the page of one row's
        fits = {kb for r in ev.table.rows
                if (kb := _exact_kb(k.total_vm_kb, r.total_vm)) is not None and kb == _exact_kb(rss_kb, r.rss)}
        if len(fits) == 1:
            kb = next(iter(fits))
            found.append((kb, f"the kill line's total-vm {k.total_vm_kb} kB and {rss_kb} kB of rss against a row's "
                              f"total_vm and rss pages (the victim {k.pid} is a thread of it)"))
    mi = ev.meminfo
    if mi is not None:
        if mi.zones and mi.pages_ram and all(z.present_kb is not None for z in mi.zones):
            present = sum(z.present_kb or 0 for z in mi.zones)
            kb = _exact_kb(present, mi.pages_ram)
            if kb is not None:
                found.append((kb, f"the zones' present {present} kB against {mi.pages_ram} pages RAM"))
        free_pages = dict(mi.vmstat).get("free")
        if mi.zones and all(z.free_kb is not None for z in mi.zones):
            zone_free = sum(z.free_kb or 0 for z in mi.zones)
            kb = _exact_kb(zone_free, free_pages)
            if kb is not None:
                found.append((kb, f"the zones' free {zone_free} kB against free:{free_pages} pages in Mem-Info"))
        if mi.buddy_page_kb in PAGE_KBS:
            found.append((mi.buddy_page_kb, f"the buddy lists' {mi.buddy_page_kb}kB order-0 blocks"))
    values = _kb_values(ev)
    allowed = tuple(kb for kb in PAGE_KBS if all(v % kb == 0 for v in values)) or PAGE_KBS
    sizes = {kb for kb, _ in found}
    if len(sizes) > 1 or (sizes and not sizes <= set(allowed)):
        why = [f"{w}: {kb} KiB" for kb, w in found]
        if sizes - set(allowed):
            why.append("the kB values printed are not all multiples of "
                       + " or ".join(f"{kb} kB" for kb in sorted(sizes - set(allowed))))
        return PageSize(PAGE_KB, False, tuple(sorted(sizes | {PAGE_KB})),
                        f"the page size is not clear ({'; '.join(why)}): {PAGE_KB} KiB assumed")
    if sizes:
        kb = sizes.pop()
        return PageSize(kb, True, (kb,), None if kb == PAGE_KB else
                        f"{kb} KiB pages: " + " and ".join(w for _, w in found) + "; kB values converted with it")
    if allowed == (PAGE_KB,):
        return PageSize(PAGE_KB, True, allowed)
    release = printed_release(ev)
    if release is not None and _ARCH_4K.search(release):
        return PageSize(PAGE_KB, True, (PAGE_KB,))
    return PageSize(PAGE_KB, False, allowed)


def _page_size_matters(ev: OomEvent, era: Era, page: PageSize, domain: Domain, host_swap_kb: int | None,
                       notes: list[str]) -> tuple[int, ...]:
    """The other page sizes to try when the report does not show its page size and something depends on it (T from
    kB values, the page-table term from bytes): then says so in ``notes`` (and T is not exact); () otherwise."""
    alts = () if page.known else tuple(kb for kb in page.allowed if kb != page.kb)
    if not alts:
        return ()
    what = []
    if any(recover_domain(ev, era, None if host_swap_kb is None else host_swap_kb // kb, kb).totalpages
           != domain.totalpages for kb in alts):
        what.append("T (kB values in pages)")
        domain.exact = False
        domain.how += f" ({page.kb} KiB pages assumed)"
    if ev.table is not None and any(r.pgtables_bytes for r in ev.table.rows):
        what.append("the page-table term (pgtables_bytes in pages)")
    if not what:
        return ()
    verb = "depends" if len(what) == 1 else "depend"
    lead = ("the page size is not clear (see above)" if page.note else "the page size is not in the report (nothing it "
            "prints both in kB and in pages, and its release names no architecture)")
    notes.append(f"{lead}: {page.kb} KiB assumed, but {' and '.join(what)} {verb} on it "
                 f"({', '.join(str(kb) for kb in alts)} KiB pages are also possible)")
    return alts


def _page_by_score(ev: OomEvent, eras: list[Era], page: PageSize, host_swap_kb: int | None) -> PageSize:
    """The page size a printed ``score S`` (3.5-5.0: points×1000/T) pins when the report shows none otherwise: the
    one size of ``page.allowed`` with which the chosen row's badness over T prints S (T from kB values changes with
    the page size, the page-table term from bytes too), when S pins T (:func:`_score_pins_t`)."""
    sel, table = ev.selection, ev.table
    if page.known or sel is None or not _score_pins_t(sel.score) or table is None:
        return page
    row = next((r for r in table.rows if r.pid == sel.pid), None)
    if row is None:
        return page
    task = row_to_task(row)
    variants = [task, task.with_(cap_sys_admin=False)] if task.uid == 0 else [task]
    fits = set()
    for kb in page.allowed:
        for e in eras:
            if _printed_score(e, 1, 1000) is None:
                continue
            T = recover_domain(ev, e, None if host_swap_kb is None else host_swap_kb // kb, kb).totalpages
            if T is not None and any(_printed_score(e, badness_terms(t, T, e, page_size=kb * 1024).points, T)
                                     == sel.score for t in variants):
                fits.add(kb)
    if len(fits) != 1:
        return page
    kb = fits.pop()
    return PageSize(kb, True, (kb,), None if kb == PAGE_KB else
                    f"{kb} KiB pages: the printed score {sel.score} is reproduced with them only; kB values converted "
                    "with it")


def _pick_at_page_kb(ev: OomEvent, era: Era, tasks: list[Task], kb: int, host_swap_kb: int | None,
                     release: str) -> int | None:
    """The model's pick with ``kb`` KiB pages (T at its lower bound when the report does not give it)."""
    d = recover_domain(ev, era, None if host_swap_kb is None else host_swap_kb // kb, kb)
    T = d.totalpages if d.totalpages is not None else _t_lower_bound(d, tasks)
    od = recovered_domain(tasks, d.meminfo, totalpages=T, page_size=kb * 1024, memcg=d.memcg,
                          constraint=model_constraint(d.constraint), exact=d.exact)
    chosen = rank_domain(od, release=release, era=era).selection.chosen
    return chosen.pid if chosen is not None else None


_CURRENT_KILLS = {
    "mempolicy": ("CONSTRAINT_MEMORY_POLICY", "'No available memory (MPOL_BIND)': an MPOL_BIND allocation failed, and "
                  "2.6.16-2.6.35 kernels then kill the allocating task (or a child of it)"),
    "cpuset": ("CONSTRAINT_CPUSET", "'No available memory in cpuset': an allocation failed in its cpuset's nodes, "
               "and 2.6.16-2.6.23 kernels then kill the allocating task (or a child of it)"),
}
"""Selection / kill-line prefix kinds of the old constrained branches of ``out_of_memory()``: they pass
``current`` and ``points`` = 0 (2.6.16: uninitialised) to ``oom_kill_process()``, with no badness scan."""


def current_kill(ev: OomEvent) -> tuple[str, str] | None:
    """(constraint, why) when the report's selection or kill line has the prefix of an old constrained branch
    that killed the allocating task without a badness scan (:data:`_CURRENT_KILLS`), else None."""
    for line in (*ev.killed, *((ev.selection,) if ev.selection is not None else ())):
        if line.kind in _CURRENT_KILLS:
            return _CURRENT_KILLS[line.kind]
    return None


def _no_killable_domain(ev: OomEvent) -> str | None:
    """The domain a report that found nothing to kill shows by what follows its ``Out of memory and no killable
    processes...`` line (4.19+, :data:`DEADLOCK_PANIC`): ``out_of_memory()`` then panics unless the OOM is a memcg one
    or sysrq-f's. The panic: ``"global"`` (cpuset and mempolicy OOMs included). The same host's next OOM report right
    after it, no panic between (nothing else prints OOM lines while oom_lock is held, and the panic keeps it), for an
    OOM whose invoked line shows it is no sysrq-f (order=-1): ``"memcg"``. None otherwise."""
    if not ev.no_killable and ev.panic != DEADLOCK_PANIC:
        return None
    if ev.panic == DEADLOCK_PANIC:
        return "global"
    if (ev.panic is None and ev.followed_by is not None and ev.invoked is not None and ev.invoked.order is not None
            and not ev.sysrq):
        return "memcg"
    return None


def recover_domain(ev: OomEvent, era: Era, host_swap_pages: int | None, page_kb: int = PAGE_KB) -> Domain:
    """The OOM domain and T (spec §3, §6.7), saying whether T is exact, approximate or unknown.
    ``page_kb`` converts the printed kB values (see :func:`detect_page_kb`)."""
    shown = ev.domain
    prefixes = [k.prefix for k in ev.killed] + ([ev.selection.prefix] if ev.selection else [])
    if shown is None and any("memory cgroup out of memory" in (p or "").lower() for p in prefixes):
        shown = "memcg"  # the selection / kill line's own prefix says so
    if shown is None:
        shown = _no_killable_domain(ev)
    cur = current_kill(ev)
    constraint = ev.constraint or (cur[0] if cur else None) or {
        "memcg": "CONSTRAINT_MEMCG", "global": "CONSTRAINT_NONE"}.get(shown or "", UNKNOWN_CONSTRAINT)
    if constraint == "CONSTRAINT_NONE" and ev.domain == "memcg":
        constraint = "CONSTRAINT_MEMCG"  # early 5.x printed CONSTRAINT_NONE for memcg OOMs (bug)
    elif (constraint == "CONSTRAINT_NONE" and ev.constraint is None and cur is None and ev.summary is not None
          and ev.summary.constraint is None):
        constraint = UNKNOWN_CONSTRAINT  # the summary line is cut before it: global, cpuset or mempolicy
    mi = ev.meminfo
    swap_pages = mi.total_swap_kb // page_kb if mi is not None and mi.total_swap_kb is not None else host_swap_pages
    if era.scoring == "legacy":
        return Domain(constraint, ev.oom_memcg or ev.task_memcg, MemInfo(0, swap_pages or 0), None, None, False,
                      f"{era.name} kernels have no totalpages: the legacy heuristic does not use one")
    if constraint == "CONSTRAINT_MEMCG":
        path = ev.oom_memcg or (ev.memcg.stats_path if ev.memcg else None) or ev.task_memcg
        mb = ev.memcg
        if mb is None or mb.limit_kb is None:
            return Domain(constraint, path, MemInfo(0, swap_pages or 0), None, None, False,
                          "memcg limit not printed: T unknown")
        version = mb.version or (2 if mb.swap_limit_kb is not None else 1)

        def pages(kb: int | None) -> int | None:
            if kb is None:
                return None
            return None if kb >= _UNLIMITED_KB else kb // page_kb

        memcg = MemcgLimits(path=path or "?", version=version, memory_max=pages(mb.limit_kb),
                            memsw_max=pages(mb.memsw_limit_kb), swap_max=pages(mb.swap_limit_kb))
        swap_room = (memcg.swap_max if version == 2 else
                     (None if memcg.memsw_max is None else max(memcg.memsw_max - (memcg.memory_max or 0), 0)))
        # Swap the cgroup already uses proves the host has at least that much: when it fills the cgroup's
        # swap room, min(room, total_swap) is the room whatever the host's total.
        used = (mb.swap_usage_kb if version == 2 else
                (None if mb.memsw_usage_kb is None or mb.usage_kb is None else max(mb.memsw_usage_kb - mb.usage_kb, 0)))
        swap_lb = used // page_kb if used is not None else None
        stale = ""
        if swap_pages is not None and swap_lb is not None and swap_lb > swap_pages:
            # an earlier report's total swap is less than this cgroup uses now: swap was added since
            stale = (f" (an earlier report's {swap_pages} swap pages are fewer than this cgroup uses: "
                     "swap was added since)")
            swap_pages = None
        if swap_pages is None and swap_lb and swap_room is not None and swap_lb >= swap_room:
            swap_pages = swap_lb
        exact = swap_room == 0 or swap_pages is not None
        limit_era = era if era.memcg_limit != "none" else era_for("3.10")
        t_range = None
        at_least = False
        how = f"memcg limit {mb.limit_kb} kB"
        if not exact and swap_lb:
            # the host has at least the swap this cgroup uses: min(room, total) is between that and the room
            lo = mem_cgroup_get_max(memcg, limit_era, swap_lb, page_size=page_kb * 1024) or 1
            if swap_room is not None:
                t_range = (lo, mem_cgroup_get_max(memcg, limit_era, swap_room, page_size=page_kb * 1024) or 1)
            at_least = t_range is None
            how += (f" + swap: the host has at least the {swap_lb} swap pages this cgroup uses{stale}, so T is "
                    + (f"{t_range[0]}..{t_range[1]}" if t_range else f"at least {lo}")
                    + " (swappiness assumed non-zero)")
            swap_pages = swap_lb
        elif not exact:
            # the host's swap counts (up to the cgroup's swap room) but a memcg report does not print it: T is the
            # limit at least, more by as much swap as the host has (scored at the limit, as before: said so)
            lo = mem_cgroup_get_max(memcg, limit_era, 0, page_size=page_kb * 1024) or 1
            hi = None if swap_room is None else mem_cgroup_get_max(memcg, limit_era, swap_room,
                                                                   page_size=page_kb * 1024) or 1
            at_least = True
            how += ("; + the host's swap, which a memcg report does not print, up to the cgroup's "
                    + ("unlimited swap room" if swap_room is None else f"swap room of {swap_room} pages")
                    + ": T is " + (f"{lo}..{hi}" if hi is not None else f"at least {lo}")
                    + f" ({lo} only with swappiness 0)")
        elif swap_room:
            how += f" + swap (min of the memcg's swap room and the host's {swap_pages}+ swap pages)"
        T = mem_cgroup_get_max(memcg, limit_era, swap_pages or 0, page_size=page_kb * 1024) or 1
        return Domain(constraint, path, MemInfo(totalram_pages=0, total_swap_pages=swap_pages or 0), memcg, T,
                      exact and era.memcg_limit != "none", how, t_range, at_least=at_least and not exact)
    if mi is None or mi.pages_ram is None:
        return Domain(constraint, None, MemInfo(0, swap_pages or 0), None, None, False,
                      "no Mem-Info totals printed: T unknown")
    reserved = mi.pages_reserved or 0
    totalram = mi.pages_ram - reserved
    meminfo = MemInfo(totalram_pages=totalram, total_swap_pages=swap_pages or 0)
    # show_mem() prints 'pages reserved' right after 'pages RAM': without it (a line lost or damaged) T is at most this
    exact = (era.first >= (3, 14, 0) and mi.total_swap_kb is not None and mi.pages_reserved is not None
             and constraint != UNKNOWN_CONSTRAINT)
    swap_text = (f"Total swap {mi.total_swap_kb} kB / {page_kb} kB per page" if mi.total_swap_kb is not None
                 else f"{swap_pages} swap pages (the Total swap of an earlier report of this host; this one does not "
                      "print it)" if swap_pages is not None else "Total swap not printed (counted as 0)")
    how = (f"pages RAM {mi.pages_ram} − reserved {reserved} + {swap_text}" if mi.pages_reserved is not None else
           f"pages RAM {mi.pages_ram} (its 'pages reserved' line is missing: none subtracted) + {swap_text}")
    if constraint == UNKNOWN_CONSTRAINT:
        how += (" (the constraint is cut off the oom-kill: summary line: a cpuset or mempolicy OOM counts only its "
                "nodes' pages, so T is at most this)")
    elif not exact:
        how += (" (approximate: before 3.14 'reserved' came from a pfn walk)" if era.first < (3, 14, 0) else
                " (approximate)")
    if constraint in ("CONSTRAINT_CPUSET", "CONSTRAINT_MEMORY_POLICY"):
        nodes = _nodes(ev.nodemask if constraint == "CONSTRAINT_MEMORY_POLICY" else ev.mems_allowed)
        zones = [z for z in mi.zones if z.present_kb is not None and z.node is not None]
        if nodes and zones:
            T = (swap_pages or 0) + sum((z.present_kb or 0) // page_kb for z in zones if z.node in nodes)
            return Domain(constraint, None, meminfo, None, T, False,
                          f"swap + present pages of nodes {sorted(nodes)} (from the zone lines; approximate)")
        return Domain(constraint, None, meminfo, None, None, False,
                      f"{constraint}: per-node sizes not printed: T unknown")
    return Domain(constraint, None, meminfo, None, totalram + (swap_pages or 0), exact, how)


# --------------------------------------------------------------------------- rows → tasks

def row_to_task(row: TaskRow, *, skip: bool = False) -> Task:
    """A task-table row as a model Task (pages; pgtables_bytes in bytes as printed)."""
    split = row.rss_anon is not None
    adj = row.oom_score_adj if row.oom_score_adj is not None else (
        oom_adj_to_oom_score_adj(row.oom_adj) if row.oom_adj is not None else 0)
    pmds = None if row.nr_pmds is None else row.nr_pmds + (row.nr_puds or 0)
    return Task(pid=row.pid, name=row.name, uid=row.uid or 0, tgid=row.tgid, oom_score_adj=adj,
                rss_anon=(row.rss_anon if split else row.rss) or 0, rss_file=row.rss_file or 0,
                rss_shmem=row.rss_shmem or 0, rss_split_known=split, swapents=row.swapents or 0,
                pgtables_bytes=row.pgtables_bytes or 0, nr_ptes=row.nr_ptes, nr_pmds=pmds,
                total_vm=row.total_vm or 0, legacy_oom_adj=row.oom_adj, oom_skip=True if skip else False,
                in_vfork=False, oom_origin=False)


# --------------------------------------------------------------------------- verdict

class Verdict(StrEnum):
    """The post-mortem's judgement of the kernel's choice (the JSON carries the value)."""

    AGREES = "agrees"
    """The model picks the task the kernel killed."""
    DISAGREES = "disagrees"
    """The model picks another task; the reason gives the most likely cause."""
    UNDECIDABLE = "undecidable"
    """The log lacks what the decision needs."""


@dataclass(frozen=True, slots=True)
class ScoreCheck:
    """The selection line's printed ``score S`` (2.6.36-5.0) against the model's score for the row the kernel
    chose. The JSON has the optional keys only where they apply (see :meth:`to_dict`)."""

    printed: int
    """The score the selection line printed."""
    model: int
    """The model's score for that row (equal to ``printed`` when they match)."""
    matches: bool
    why: str | None = None
    """Why they differ, with the likely causes (None when they match)."""
    inferred_totalpages: tuple[int, int] | None = None
    """T was not exact: the pages T lies within for the printed score to come out (then ``matches``)."""
    implied: str | None = None
    """A mismatch: what the printed score means for the row, in words."""
    implied_points: tuple[int, int] | None = None
    """A mismatch in a pages era: the badness points the kernel counted (low, high)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"printed": self.printed, "model": self.model, "matches": self.matches}
        if self.inferred_totalpages is not None:
            out["inferred_totalpages"] = list(self.inferred_totalpages)
        if self.implied is not None:
            out["implied"] = self.implied
        if self.implied_points is not None:
            out["implied_points"] = list(self.implied_points)
        out["why"] = self.why
        return out


@dataclass(frozen=True, slots=True)
class TaskBadness:
    """A task named by an explanation, with its badness (in the era's unit)."""

    pid: int
    name: str
    badness: int

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "name": self.name, "badness": self.badness}


@dataclass(frozen=True, slots=True)
class TopRow:
    """One of the model's top candidates: badness (era's unit) and its terms (pages)."""

    pid: int
    name: str
    badness: int | None
    """None: T is unknown and this badness depends on it."""
    rss: int
    swapents: int
    pgtables: int
    adj_term: int | None
    margin_to_victim: int | None
    """badness − the model victim's badness (0 for the victim); None when T is unknown and either depends on it."""

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "name": self.name, "badness": self.badness, "rss": self.rss,
                "swapents": self.swapents, "pgtables": self.pgtables, "adj_term": self.adj_term,
                "margin_to_victim": self.margin_to_victim}


@dataclass(frozen=True, slots=True)
class EventExplanation:
    """Why the model's victim is the victim: badness and margins in the era's unit (``badness_unit``); page
    figures (``margin_pages``, ``shed_pages``) where they can be derived, with ``*_exact`` false when per mille
    (an approximation to T/1000 pages), None where they cannot (legacy heuristic, T unknown)."""

    badness_unit: BadnessUnit
    victim: TaskBadness
    runner_up: TaskBadness | None
    """The next candidate, which would die instead were the victim spared."""
    margin: int | None
    """Badness the victim leads the runner-up by."""
    margin_pages: int | None
    margin_pages_exact: bool | None
    margin_text: str | None
    """The margin in words, in the era's unit (:func:`points_text`)."""
    spare_adj: int | None
    """Highest oom_score_adj at which the victim would have been spared."""
    shed_points: int | None
    """Badness the victim must lose to stop being the victim."""
    shed_pages: int | None
    shed_pages_exact: bool | None
    top: tuple[TopRow, ...]
    """The first five eligible tasks in kill order."""
    kernel_victim_rank: int | None
    """Where the kernel's victim ranks (None: no kernel victim in the table)."""

    def to_dict(self) -> dict[str, Any]:
        ru = self.runner_up
        return {
            "badness_unit": self.badness_unit,
            "victim": self.victim.to_dict(),
            "runner_up": ru.to_dict() if ru else None,
            "margin": self.margin,
            "margin_pages": self.margin_pages,
            "margin_pages_exact": self.margin_pages_exact,
            "margin_text": self.margin_text,
            "spare_adj": self.spare_adj,
            "would_die_instead": {"pid": ru.pid, "name": ru.name} if ru else None,
            "shed_points": self.shed_points,
            "shed_pages": self.shed_pages,
            "shed_pages_exact": self.shed_pages_exact,
            "top": [t.to_dict() for t in self.top],
            "kernel_victim_rank": self.kernel_victim_rank,
        }


@dataclass(frozen=True, slots=True)
class InvokedBy:
    """The allocating task that invoked the OOM killer (``current``, not the victim), as the report names it."""

    comm: str | None
    pid: int | None
    """From the invoked line, else the ``CPU: .. PID:`` line."""
    order: int | None
    gfp_mask: str | int | None
    """The printed flags (``GFP_KERNEL``...) where the line shows them, else the mask."""

    @classmethod
    def of(cls, ev: OomEvent) -> InvokedBy | None:
        inv = ev.invoked
        if inv is None:
            return None
        return cls(inv.comm, inv.pid or (ev.cpu.pid if ev.cpu else None), inv.order, inv.gfp_flags or inv.gfp_mask)

    def to_dict(self) -> dict[str, Any]:
        return {"comm": self.comm, "pid": self.pid, "order": self.order, "gfp_mask": self.gfp_mask}


@dataclass(frozen=True, slots=True)
class OverLimit:
    """A memcg report's usage against its limit, kB as printed."""

    usage_kb: int
    limit_kb: int
    failcnt: int | None
    memsw_usage_kb: int | None = None
    """v1 memory+swap usage (None: not printed; then the limit is left out too)."""
    memsw_limit_kb: int | None = None
    swap_usage_kb: int | None = None
    """v2 swap usage (None: not printed; then the limit is left out too)."""
    swap_limit_kb: int | None = None

    @classmethod
    def of(cls, mb: MemcgBlock | None) -> OverLimit | None:
        """None without a usage and a limit a kernel can print."""
        if (mb is None or mb.usage_kb is None or mb.limit_kb is None or _bad_counter(mb.usage_kb)
                or _bad_counter(mb.limit_kb)):
            return None
        return cls(mb.usage_kb, mb.limit_kb, mb.failcnt, mb.memsw_usage_kb, mb.memsw_limit_kb, mb.swap_usage_kb,
                   mb.swap_limit_kb)

    @property
    def over_kb(self) -> int:
        return self.usage_kb - self.limit_kb

    @property
    def percent(self) -> float | None:
        """Usage in percent of the limit, one decimal (None for a zero limit)."""
        return round(100 * self.usage_kb / self.limit_kb, 1) if self.limit_kb else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"usage_kb": self.usage_kb, "limit_kb": self.limit_kb, "failcnt": self.failcnt,
                               "over_kb": self.over_kb, "percent": self.percent}
        if self.memsw_usage_kb is not None:
            out["memsw_usage_kb"], out["memsw_limit_kb"] = self.memsw_usage_kb, self.memsw_limit_kb
        if self.swap_usage_kb is not None:
            out["swap_usage_kb"], out["swap_limit_kb"] = self.swap_usage_kb, self.swap_limit_kb
        return out


@dataclass(slots=True)
class EventAnalysis:
    event: OomEvent
    era: Era | None
    era_source: str
    alternatives: list[str]
    domain: Domain | None
    ranking: Ranking | None
    verdict: Verdict
    reason: str | None
    model_victim: Task | None = None
    score_check: ScoreCheck | None = None
    explanation: EventExplanation | None = None
    notes: list[str] = field(default_factory=list)
    page_kb: int = PAGE_KB
    t_low: int | None = None
    """T is unknown: the ranking was computed at this lower bound of T; the values that depend on T (the tasks in
    :attr:`t_dependent`) are not shown."""
    t_dependent: dict[int, tuple[int, int] | None] = field(default_factory=dict)
    """T is unknown: pid → (base, coefficient) of the tasks whose badness depends on T, ``base + coefficient ×
    (T/1000)`` (before the clamp to 1 of 3.5-5.8); None for a per-mille badness (``base×1000/T + adj``)."""
    victim_thread: int | None = None
    """The killed pid when it is no row of the table but a thread of one (judged as that row's process)."""
    repeat_of: tuple[int, int] | None = None
    """The lines of another event of the same input that this one repeats (same host, time, killed pid and report
    lines: one OOM shown twice, e.g. a report quoted twice) or is a stray part of (:func:`_fragment_of`). Not
    analysed again, not counted (:class:`Tally`)."""
    evidence_range: tuple[Version, Version | None] | None = None
    """The releases the report's format allows (:func:`format_range`): (first, last or None)."""
    kernel_row: int | None = None
    """The table row of the kernel's choice, which the verdict compares with the model's pick: the selected pid, else
    the killed one (or the process of a killed thread); None when the log shows neither among the rows."""

    # What the JSON and the human output both show, derived once (the event's fields as printed, else the
    # analysis's).

    @property
    def timestamp(self) -> str | None:
        """The log's timestamp, else the uptime stamp (seconds since boot, 6 decimals)."""
        ev = self.event
        return ev.timestamp or (f"{ev.uptime:.6f}" if ev.uptime is not None else None)

    @property
    def kernel_release(self) -> str | None:
        return printed_release(self.event)

    @property
    def era_name(self) -> str | None:
        return self.era.name if self.era else None

    @property
    def era_range_text(self) -> str | None:
        """The releases the report's evidence allows, when it allows more than the era scored with (None when the
        era is all it allows, or a printed release fixed it)."""
        if self.era is None or not self.alternatives:
            return None
        if self.evidence_range is not None:  # what the evidence says, not the span of the eras it touches
            lo, hi = self.evidence_range
        else:
            names = [self.era.name, *self.alternatives]
            eras = [e for e in ERAS if e.name in names]
            lo = min(e.first for e in eras)
            last = [e.last for e in eras]
            hi = None if any(x is None for x in last) else max(x for x in last if x is not None)
        if hi is None and lo <= ERAS[0].first:
            return "any release"  # nothing in the report dates it

        def v(x: Version) -> str:
            return ".".join(map(str, x[:2] if x[2] in (0, 9999) else x))

        if lo <= ERAS[0].first:
            return f"up to {v(hi)}" if hi is not None else "any release"
        return f"{v(lo)}–{v(hi)}" if hi is not None else f"{v(lo)}+"

    @property
    def constraint(self) -> str:
        d, ev = self.domain, self.event
        return d.constraint if d else (ev.constraint or "unknown")

    @property
    def cgroup(self) -> str | None:
        d, ev = self.domain, self.event
        return d.cgroup if d else (ev.oom_memcg or ev.task_memcg)

    @property
    def totalpages(self) -> int | None:
        return self.domain.totalpages if self.domain else None

    @property
    def totalpages_exact(self) -> bool:
        return self.domain.exact if self.domain else False

    @property
    def totalpages_range(self) -> tuple[int, int] | None:
        return self.domain.t_range if self.domain else None

    @property
    def totalpages_at_least(self) -> bool:
        """T is only known to be at least :attr:`totalpages` (see :attr:`Domain.at_least`)."""
        return self.domain.at_least and not self.domain.exact if self.domain else False

    @property
    def totalpages_how(self) -> str | None:
        return self.domain.how if self.domain else None

    @property
    def invoked_by(self) -> InvokedBy | None:
        return InvokedBy.of(self.event)

    @property
    def table_incomplete(self) -> bool:
        """The task table is in the log but rows are known or likely to be missing (filtered, cut): the best of its
        rows is no model pick (the missing rows may outscore it)."""
        t = self.event.table
        return t is not None and (t.filtered or t.truncated)

    @property
    def domain_text(self) -> str:
        """The OOM domain in words (the human output and the HTML page): never "global" unless it was."""
        c = self.constraint
        if c == "CONSTRAINT_MEMCG":
            return f"memcg {self.cgroup}" if self.cgroup else "memcg (cgroup path not printed)"
        if c == UNKNOWN_CONSTRAINT:
            return "not shown by the report"
        if c == "CONSTRAINT_CPUSET":
            return "cpuset (the allocating task's allowed nodes)"
        if c == "CONSTRAINT_MEMORY_POLICY":
            return "mempolicy (the allocation's nodemask)"
        if c == "CONSTRAINT_NONE":
            return f"memcg {self.cgroup}" if self.cgroup else "global"
        return "a constraint mainline kernels do not print" + (f", memcg {self.cgroup}" if self.cgroup else "")

    @property
    def unscanned_choice(self) -> str | None:
        """Why the kernel's choice was no badness choice (an old constrained branch killed the allocating task), or
        None."""
        cur = current_kill(self.event)
        return cur[1] if cur is not None else None

    @property
    def allocating_task_policy(self) -> bool:
        """Whether the kernel chose by ``vm.oom_kill_allocating_task=1`` (the allocating task, no scan)."""
        ev = self.event
        if ev.selection is not None:
            return ev.selection.kind == "allocating_task"
        return any(k.kind == "allocating_task" for k in ev.killed)

    @property
    def over_limit(self) -> OverLimit | None:
        return OverLimit.of(self.event.memcg)

    @property
    def all_notes(self) -> list[str]:
        """The analysis's notes, then the report's (parser notes and warnings, less the ones the analysis knows
        to be wrong for this event: :func:`_report_notes`)."""
        return self.notes + _report_notes(self.event, self.era, self.victim_thread) + list(self.event.warnings)

    def global_totalpages(self) -> int | None:
        """The host's T (the /proc/PID/oom_score scale), or None when the report does not show it."""
        d, ev = self.domain, self.event
        if d is None:
            return None
        if d.constraint == "CONSTRAINT_NONE":
            return d.totalpages
        mi = ev.meminfo
        if mi is None or mi.pages_ram is None:
            return None  # a memcg / cpuset report without the host's Mem-Info totals
        swap_kb = mi.total_swap_kb
        if swap_kb is None or mi.pages_reserved is None or any(
                _bad_counter(v) for v in (mi.pages_ram, mi.pages_reserved, swap_kb)):
            return None
        return mi.pages_ram - mi.pages_reserved + swap_kb // self.page_kb

    def _task_dicts(self) -> list[dict[str, Any]]:
        r = self.ranking
        if r is None:
            return []
        rows = [t.to_dict(r.page_size) for t in r.tasks]
        for st, row in zip(r.tasks, rows):
            if not st.eligible:  # not scored, but its page tables are as the era counts them (nr_ptes...)
                row["pgtables_pages"] = _page_table_pages(st.task, r.era, r.page_size)
            if st.task.pid in self.t_dependent:
                lin = self.t_dependent[st.task.pid]
                row["badness"] = row["clamped"] = None
                row["t_dependent"] = True
                if lin is not None:
                    row["adj_term"] = None
                    row["badness_linear"] = {"base": lin[0], "per_t_thousand": lin[1]}
        G = self.global_totalpages()
        known = G is not None and G > 0 and (self.domain is None or self.domain.constraint != "CONSTRAINT_NONE"
                                             or self.domain.totalpages is not None)
        for st, row in zip(r.tasks, rows):
            if not known:
                row["oom_score"] = None  # the /proc scale needs the host's T, which this report lacks
            elif G != r.global_totalpages:
                assert G is not None
                pts = badness_terms(st.task, G, r.era, page_size=r.page_size).points
                if not st.eligible and r.era.initial_best == "long_min":
                    pts = LONG_MIN
                row["oom_score"] = proc_oom_score(pts, G, r.era)
        return rows

    def to_dict(self) -> dict[str, Any]:
        ev = self.event
        killed = [{"pid": k.pid, "name": k.name} for k in ev.killed]
        kv = ({"pid": ev.victim_pid, "name": ev.victim_name} if ev.victim_pid is not None else None)
        t_range = self.totalpages_range
        inv, ol = self.invoked_by, self.over_limit
        return {
            "source": ev.source,
            "host": ev.host,
            "lines": [ev.start_line, ev.end_line],
            "timestamp": self.timestamp,
            "kernel_release": self.kernel_release,
            "kernel_era": self.era_name,
            "era_source": self.era_source,
            "era_alternatives": self.alternatives,
            "constraint": self.constraint,
            "cgroup": self.cgroup,
            "totalpages": self.totalpages,
            "totalpages_exact": self.totalpages_exact,
            "totalpages_range": (list(t_range) if t_range else
                                 [self.totalpages, None] if self.totalpages_at_least else None),
            "totalpages_how": self.totalpages_how,
            "badness_unit": self.era.badness_unit if self.era else None,
            "invoked_by": inv.to_dict() if inv else None,
            "sysrq": ev.sysrq,
            "selection": ({"pid": ev.selection.pid, "name": ev.selection.name, "score": ev.selection.score,
                           "kind": ev.selection.kind} if ev.selection else None),
            "kernel_victim": kv,
            "killed": killed,
            "sharing_killed": [{"pid": pid, "name": name} for pid, name in ev.sharing_killed],
            "oom_group": ev.oom_group_path,
            "panic": ev.panic,
            "reaped": [{"pid": x.pid, "name": x.name, "reaped": x.reaped} for x in ev.reaped],
            "model_victim": ({"pid": self.model_victim.pid, "name": self.model_victim.name}
                             if self.model_victim else None),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "score_check": self.score_check.to_dict() if self.score_check else None,
            "explanation": self.explanation.to_dict() if self.explanation else None,
            "over_limit": ol.to_dict() if ol else None,
            "tasks": self._task_dicts(),
            "notes": self.all_notes,
        }


_KILL_ONLY_NOTE = "only the kill line(s) of this OOM: dump_header() is ratelimited"
_SELECTION_ONLY = ("on the kernel's selection: its 'Killed process' line is not in the log, so which task died (the "
                   "selected one, or a child sacrificed in its place) is not known")
"""The detail of a verdict on a selection line without its kill line (printed after the whole table, so the table
is complete: the selection can be judged, the kill cannot)."""


def _report_notes(ev: OomEvent, era: Era | None, victim_thread: int | None = None) -> list[str]:
    """The parser's notes on ``ev``, corrected where the analysis knows better: a score above 1000 is only
    remarkable from 2.6.36 (the legacy heuristic's points are unbounded), ratelimiting is one possible cause
    of a report that is nothing but a kill line (a filtered or excerpted log is another), said only of such a
    report, and a killed pid the table lacks is no news when the analysis found it a thread of a row."""
    out: list[str] = []
    only_kill = (bool(ev.killed) and ev.selection is None and ev.invoked is None and ev.table is None
                 and ev.meminfo is None and ev.memcg is None)
    for n in ev.notes:
        if victim_thread is not None and n == f"the killed pid {victim_thread} is not in the task table":
            continue
        if n.startswith("printed score ") and n.endswith("exceeds 1000"):
            S = ev.selection.score if ev.selection is not None else None
            if era is None or S is None or not _score_unprintable(era, S, ev):
                continue
            n = f"printed score {S} is more than {era.name} kernels print ({_score_bound_text(era)})"
        elif n.startswith(_KILL_ONLY_NOTE):
            if not only_kill:
                continue
            n = ("only the kill line(s) of this OOM: the rest of the report may have been ratelimited "
                 "(dump_header() is, the kill line is not), filtered out (grep, a log level) or left out of an "
                 "excerpt" + ("; 2.4 kernels printed nothing else" if any(k.variant == "2.4" for k in ev.killed)
                              else ""))
        out.append(n)
    return out


def _score_unprintable(era: Era, score: int, ev: OomEvent) -> bool:
    """Whether no kernel of ``era`` prints ``score S`` = ``score`` for ``ev``: 2.6.36-3.4 print the badness clamped
    to 0..1000; 3.5-5.0 print points×1000/T, where, in an OOM of the whole machine, memory (at most about T) plus an
    oom_score_adj of +1000 (T more) reach about 2000. A memcg's T is its limit, which a task's memory may pass (pages
    charged elsewhere, a limit set below the usage: 0 kB makes T 1 and the score points×1000), and a cpuset's or
    mempolicy's T counts its nodes only: no bound there. The legacy heuristic's points are unbounded."""
    if era.scoring == "permille":
        return score > 1000
    if era.scoring == "pages" and era.sacrifice_child:
        return score > 2000 and ev.domain == "global" and ev.constraint in (None, "CONSTRAINT_NONE")
    return False


def _score_bound_text(era: Era) -> str:
    if era.scoring == "permille":
        return "the badness clamped to 0..1000"
    return "points×1000/T: memory up to T plus oom_score_adj +1000 adding T, about 2000 at most"


def _score_pins_t(score: int | None) -> bool:
    """Whether a printed score that the model reproduces also vouches for T: every T within 1% gives another
    score (a score of S covers T values about 1/S apart, so S >= 100), and it is no clamp (1, 1000 per mille)."""
    return score is not None and 100 <= score and score != 1000


def _score_t_range(ev: OomEvent, era: Era, tasks: list[Task], kernel_pid: int | None, T: int,
                   page_size: int) -> tuple[int, int] | None:
    """The values of T for which the chosen row's printed score comes out as printed (3.5-5.0: points×1000/T), when
    its points do not depend on T (no oom_score_adj or root-bonus term) and the score is no clamp; else None."""
    sel = ev.selection
    S = sel.score if sel is not None else None
    if sel is None or S is None or S <= 0 or not (era.scoring == "pages" and era.sacrifice_child):
        return None
    row = next((t for t in tasks if t.pid == sel.pid), None) or next((t for t in tasks if t.pid == kernel_pid), None)
    if row is None or _linear_terms(row, era, page_size)[1]:
        return None
    b = badness_terms(row, T, era, page_size=page_size)
    if b.clamped:
        return None
    lo, hi = b.points * 1000 // (S + 1) + 1, b.points * 1000 // S
    return (lo, hi) if lo <= T <= hi else None


def _printed_score(era: Era, points: int, T: int) -> int | None:
    """The ``score S`` the selection line prints for chosen_points (spec §6.4)."""
    if era.scoring == "permille":
        return points
    if era.scoring == "pages" and era.sacrifice_child:  # 3.5-5.0
        return points * 1000 // max(T, 1)
    return None


# --------------------------------------------------------------------------- values the kernel cannot print

_COUNTER_MAX = 1 << 64
"""Every size, count and pid a kernel prints is an unsigned long (or smaller): a value at or beyond 2**64, or
negative, is not from a kernel (a corrupt or hostile log) and the analysis does not use it."""
_ROW_COUNTERS = ("pid", "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "nr_ptes", "nr_pmds",
                 "nr_puds", "pgtables_bytes", "swapents")
_MEMCG_FIELDS = ("usage_kb", "limit_kb", "failcnt", "memsw_usage_kb", "memsw_limit_kb", "swap_usage_kb",
                 "swap_limit_kb")
_MEMINFO_FIELDS = ("pages_ram", "pages_reserved", "total_swap_kb")
_KILL_FIELDS = ("anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb", "total_vm_kb")
_PID_MAX_LIMIT = 4 * 1024 * 1024
"""``PID_MAX_LIMIT`` (include/linux/threads.h, 64-bit; 32-bit kernels stop at 32768): every pid a kernel prints is
1 <= pid < this (pid 0 is the idle task, never an OOM candidate)."""


def _bad_pid(pid: int | None) -> bool:
    return pid is not None and not 1 <= pid < _PID_MAX_LIMIT


def _shown(v: int) -> str:
    """A value for a message: itself, or its size when it is too long to print."""
    if -10**20 < v < 10**20:
        return str(v)
    n = abs(v)
    d = max(int(n.bit_length() * 0.30102999566398) - 1, 1)  # a lower bound, then exact by comparison
    while 10**d <= n:
        d += 1
    return f"a {d}-digit number"


def _bad_counter(v: int | None) -> bool:
    return v is not None and not 0 <= v < _COUNTER_MAX


def sanitize(ev: OomEvent) -> tuple[OomEvent, list[str], str | None]:
    """``ev`` with every value no kernel can print set aside: (event to analyse, notes, undecidable reason).

    Mem-Info, memcg and kill-line values out of range are dropped (T or the page size becomes unknown, and the
    analysis says what that costs); a task-table row out of range makes the event undecidable (the choice
    depends on every row); an out-of-range printed score is not checked."""
    import dataclasses

    notes: list[str] = []
    mi = ev.meminfo
    if mi is not None:
        bad = {f: None for f in _MEMINFO_FIELDS if _bad_counter(getattr(mi, f))}
        zones = tuple(z for z in mi.zones if not (_bad_counter(z.present_kb) or _bad_counter(z.node)))
        for f in bad:
            notes.append(f"Mem-Info {f} = {_shown(getattr(mi, f))} is not a kernel value: ignored")
        if len(zones) != len(mi.zones):
            notes.append(f"{len(mi.zones) - len(zones)} zone lines with values no kernel prints: ignored")
        if bad or len(zones) != len(mi.zones):
            ev = dataclasses.replace(ev, meminfo=dataclasses.replace(mi, zones=zones, **bad))  # type: ignore[arg-type]
    mb = ev.memcg
    if mb is not None:
        bad = {f: None for f in _MEMCG_FIELDS if _bad_counter(getattr(mb, f))}
        if bad:
            for f in bad:
                notes.append(f"memcg {f} = {_shown(getattr(mb, f))} is not a kernel value: ignored")
            ev = dataclasses.replace(ev, memcg=dataclasses.replace(mb, **bad))  # type: ignore[arg-type]
    if ev.killed:
        killed = []
        for k in ev.killed:
            if _bad_pid(k.pid):
                notes.append(f"kill line {k.lineno}: pid {_shown(k.pid)} is not a pid a kernel prints: the line "
                             f"is not used")
                continue
            unknown: dict[str, None] = {f: None for f in _KILL_FIELDS if _bad_counter(getattr(k, f))}
            if k.oom_score_adj is not None and not -1000 <= k.oom_score_adj <= 1000:
                unknown["oom_score_adj"] = None
            if unknown:
                notes.append(f"kill line of {_shown(k.pid)}: {', '.join(unknown)} not kernel values: ignored")
                k = dataclasses.replace(k, **unknown)  # type: ignore[arg-type]
            killed.append(k)
        ev = dataclasses.replace(ev, killed=tuple(killed))
    if ev.summary is not None and ev.summary.pid is not None and _bad_pid(ev.summary.pid):
        notes.append(f"the oom-kill: summary's pid {_shown(ev.summary.pid)} is not a pid a kernel prints: ignored")
        ev = dataclasses.replace(ev, summary=dataclasses.replace(ev.summary, pid=None))
    if any(_bad_pid(x.pid) for x in ev.reaped):
        notes.append("oom_reaper lines naming pids no kernel prints: ignored")
        ev = dataclasses.replace(ev, reaped=tuple(x for x in ev.reaped if not _bad_pid(x.pid)))
    if ev.selection is not None and _bad_pid(ev.selection.pid):
        notes.append(f"selection line {ev.selection.lineno}: pid {_shown(ev.selection.pid)} is not a pid a kernel "
                     f"prints: the line is not used")
        ev = dataclasses.replace(ev, selection=None)
    if (ev.selection is not None and ev.selection.score is not None
            and not 0 <= ev.selection.score < _COUNTER_MAX):
        notes.append(f"the printed score {_shown(ev.selection.score)} is not a kernel value: not checked")
        ev = dataclasses.replace(ev, selection=dataclasses.replace(ev.selection, score=-1, kind="unchecked"))
    reason = None
    if ev.table is not None:
        for r in ev.table.rows:
            wrong = [f for f in _ROW_COUNTERS if _bad_counter(getattr(r, f))]
            wrong += [f for f in ("pid", "tgid") if f not in wrong and _bad_pid(getattr(r, f))]
            if r.oom_score_adj is not None and not -1000 <= r.oom_score_adj <= 1000:
                wrong.append("oom_score_adj")
            if r.oom_adj is not None and not -17 <= r.oom_adj <= 15:
                wrong.append("oom_adj")
            if wrong:
                vals = ", ".join(f"{f} = {_shown(getattr(r, f))}" for f in wrong)
                reason = (f"the task table row of pid {_shown(r.pid)} (line {r.lineno}) holds values no kernel "
                          f"prints ({vals}): the table cannot be scored")
                break
    return ev, notes, reason


_GENERIC_HOSTS = frozenset({"localhost", "localhost.localdomain", "(none)", "-", "ubuntu", "debian"})
"""Host names too common to prove two files come from one machine."""

HostKey = tuple[str, str | None]


def host_key(ev: OomEvent) -> HostKey:
    """Which machine an event comes from, as far as the input proves it.

    A distinctive host name identifies a machine across files (rotated syslogs of one host); an event
    without a host name (dmesg, a paste) or with a generic one (``localhost``) is only known to share its
    machine with the other such events *of the same source*: each file is its own world then."""
    if ev.host and ev.host.lower() not in _GENERIC_HOSTS:
        return ("host", ev.host)
    return ("source:" + ev.source, ev.host)


def _clock(ev: OomEvent) -> str:
    """What places an event among its host's others: its uptime stamp, a wall-clock time, or only where it is in
    the input. A previous victim is one killed by an earlier report placed alike: a report copied without its stamps
    (a mail quoting a kill line) may be a copy of a later one, so its kill makes no stamped task a previous victim."""
    return "uptime" if ev.uptime is not None else "wall" if ev.timestamp is not None else ""


MAX_SEEN = 64
"""Events remembered to tell a repeat (the oldest is forgotten first). They are held whole until a later event with
the same time stamp and killed pid asks for their content, so that the content is compared only then (a digest of
every event's content cost a third of the analysis of a log in an OOM loop); one OOM shown twice is shown close by."""

_LINE_NUMBERS = re.compile(r"\blines? \d+(?:(?:[-–]| and )\d+)?")


def _without_line_numbers(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _without_line_numbers(v) for k, v in d.items()
                if k not in ("lineno", "start_line", "end_line", "followed_by", "format_hints", "notes", "warnings")}
    if isinstance(d, list | tuple):
        return [_without_line_numbers(v) for v in d]
    return d


class RepeatKey(NamedTuple):
    """What tells one OOM printed twice (:func:`repeat_key`): ``same`` (source, host, time stamp, uptime, killed pid
    and a digest of everything the report says but its task table), ``rows`` (the table's rows, less line numbers),
    ``abridged`` (the table says rows were left out: an elision or a grep separator in it), ``complete`` (``same``
    and a digest of the table and the notes: equal for an exact repeat)."""

    same: tuple[Any, ...]
    rows: frozenset[str]
    abridged: bool
    complete: tuple[Any, ...]


def repeat_key(ev: OomEvent) -> RepeatKey | None:
    """What makes two events of one input the same OOM printed once (None when the event cannot be told apart from
    another OOM: no killed pid, or no time stamp): the source, host, time stamp, uptime, killed pid and everything the
    report's lines say (its parsed content and notes, less line numbers and the paste's decoration). The kernel
    cannot kill one pid twice at one instant, and a second OOM does not print the same report to the last digit."""
    if ev.victim_pid is None or (ev.timestamp is None and ev.uptime is None):
        return None
    doc = _without_line_numbers(ev.to_dict())
    table = doc.pop("table", None)
    rows = frozenset(repr(r) for r in (table or {}).get("rows", ()))
    notes = [_LINE_NUMBERS.sub("line", n) for n in (*ev.notes, *ev.warnings)]
    same = (ev.source, ev.host, ev.timestamp, ev.uptime, ev.victim_pid,
            hashlib.blake2b(repr(doc).encode(), digest_size=20).digest())
    complete = hashlib.blake2b(repr((table, notes)).encode(), digest_size=20).digest()
    return RepeatKey(same, rows, ev.table is not None and ev.table.truncated, (*same, complete))


class _Seen:
    """An event remembered for repeat detection; its :func:`repeat_key` is computed when first asked for."""

    __slots__ = ("_key", "event")

    def __init__(self, event: OomEvent) -> None:
        self.event = event
        self._key: RepeatKey | None = None

    def key(self) -> RepeatKey:
        if self._key is None:
            self._key = repeat_key(self.event)
            assert self._key is not None
        return self._key


def _repeat(ev: OomEvent, first: tuple[int, int], exact: bool) -> EventAnalysis:
    what = ", ".join(x for x in (f"host {ev.host}" if ev.host else "", f"time {ev.timestamp or ev.uptime}",
                                 f"killed pid {ev.victim_pid}") if x)
    copy = ("an exact repeat of the report at lines {0}-{1} ({2} and the same lines)" if exact else
            "a shortened copy of the report at lines {0}-{1} ({2}, the same lines but task-table rows left out)")
    return EventAnalysis(ev, None, "not analysed", [], None, None, Verdict.UNDECIDABLE,
                         copy.format(first[0], first[1], what) + ": one OOM shown twice (a report quoted twice, lines "
                         "copied twice), analysed there; dropped, not counted again", repeat_of=first)


class Analyzer:
    """Analyses events in input order, carrying per-host state (previous victims, total swap).

    State carries over only between events the input proves to be of one machine (:func:`host_key`),
    and is dropped when that machine's uptime stamp goes backwards (a reboot: pids are reused)."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.victims: dict[HostKey, dict[int, tuple[str, str]]] = {}
        """Pids killed, by host: their name and the :func:`_clock` of the report that killed them."""
        self.reaped: dict[HostKey, dict[int, tuple[str, str]]] = {}
        """Pids the log shows reaped by the oom_reaper (4.6+), by host: previous victims on 4.7+ kernels."""
        self.swap_kb: dict[HostKey, int] = {}
        self.uptime: dict[HostKey, float] = {}
        self.release: dict[HostKey, str] = {}
        """The release the host's last report printed, carried to later reports of the same boot that print none."""
        self.page_kb: dict[HostKey, int] = {}
        """The page size an earlier report of the host showed, carried (like its swap) to later ones that show none."""
        self.seen: dict[tuple[Any, ...], list[_Seen]] = {}
        """Events seen, by what a repeat shares first (source, host, time stamp, uptime, killed pid), to tell a repeat
        (bounded: :data:`MAX_SEEN` events)."""
        self._seen_count = 0

    def _repeat_of(self, ev: OomEvent) -> EventAnalysis | None:
        """The repeat analysis when ``ev`` repeats an event seen before (:func:`repeat_key`); else None, and ``ev``
        is remembered."""
        if ev.victim_pid is None or (ev.timestamp is None and ev.uptime is None):
            return None
        ident = (ev.source, ev.host, ev.timestamp, ev.uptime, ev.victim_pid)
        earlier = self.seen.get(ident)
        if earlier:
            rk = repeat_key(ev)
            assert rk is not None
            for seen in earlier:
                first_key, first = seen.key(), (seen.event.start_line, seen.event.end_line)
                if first_key.same != rk.same:
                    continue
                if rk.complete == first_key.complete:
                    return _repeat(ev, first, exact=True)
                if rk.abridged and not first_key.abridged and rk.rows <= first_key.rows:
                    return _repeat(ev, first, exact=False)  # every row this copy shows is in the first one
        if self._seen_count >= MAX_SEEN:
            oldest = next(iter(self.seen))
            self._seen_count -= len(self.seen.pop(oldest))
        self.seen.setdefault(ident, []).append(_Seen(ev))
        self._seen_count += 1
        return None

    def analyze(self, ev: OomEvent) -> EventAnalysis:
        repeat = self._repeat_of(ev)
        if repeat is not None:
            return repeat
        key = host_key(ev)
        if ev.uptime is not None:
            last = self.uptime.get(key)
            if last is not None and ev.uptime < last:  # rebooted since: nothing carries over
                self.victims.pop(key, None)
                self.reaped.pop(key, None)
                self.swap_kb.pop(key, None)
                self.release.pop(key, None)
                self.page_kb.pop(key, None)
            self.uptime[key] = ev.uptime
        try:
            return self._analyze(ev, key)
        except Exception as exc:  # one event must not end the run: its verdict says so
            if self.strict:
                raise
            return EventAnalysis(ev, None, "not analysed", [], None, None, Verdict.UNDECIDABLE,
                                 f"oomlens could not analyse this event ({type(exc).__name__}: {str(exc)[:200]}); "
                                 "please report it with the log excerpt",
                                 notes=["internal error while analysing this event: the verdict is not the model's"])
        finally:
            if ev.meminfo is not None and ev.meminfo.total_swap_kb is not None:
                self.swap_kb[key] = ev.meminfo.total_swap_kb
            clock = _clock(ev)
            for k in ev.killed:
                if k.name is not None:   # a name cut off proves nothing about a later pid's process
                    self.victims.setdefault(key, {})[k.pid] = (k.name, clock)
            for r in (*ev.reaped, *ev.other_reaped):
                if r.reaped and r.name:  # reaped (MMF_OOM_REAPED/MMF_OOM_SKIP set): a previous victim
                    self.reaped.setdefault(key, {})[r.pid] = (r.name, clock)
            rel = printed_release(ev)
            if rel and ev.uptime is not None:
                self.release[key] = rel
            elif ev.uptime is None:
                self.release.pop(key, None)  # the boot cannot be told any more

    def _analyze(self, ev: OomEvent, key: HostKey) -> EventAnalysis:
        raw = ev  # shown as printed; analysed without the values no kernel prints
        ev, notes, insane = sanitize(raw)
        eras, era_source = candidate_eras(ev, self.release.get(key) if ev.uptime is not None else None)
        evidence = format_range(ev)
        era = eras[0]
        alternatives = [e.name for e in eras[1:]]
        kernel_pid = ev.victim_pid
        host_swap_kb = self.swap_kb.get(key)
        page = _page_by_score(ev, eras, detect_page_kb(ev), host_swap_kb)
        carried_kb = self.page_kb.get(key)
        if not page.known and carried_kb is not None and carried_kb in page.allowed:
            page = PageSize(carried_kb, True, (carried_kb,), None if carried_kb == PAGE_KB else
                            f"{carried_kb} KiB pages, as an earlier report of this host shows (this one prints nothing "
                            "that tells the page size); kB values converted with it")
        if page.known:
            self.page_kb[key] = page.kb
        page_kb = page.kb
        if page.note:
            notes.append(page.note)
        domain = recover_domain(ev, era, None if host_swap_kb is None else host_swap_kb // page_kb, page_kb)
        page_alts = _page_size_matters(ev, era, page, domain, host_swap_kb, notes)
        constrained = current_kill(ev)
        if constrained is not None:
            named = ev.selection
            notes.append(constrained[1] + " without a badness scan"
                         + (f": the selection line's pid {named.pid} is that task and its 'score {named.score}' is no "
                            "badness (that branch computes none)" if named is not None else ""))
        table = ev.table
        t_low: int | None = None
        """T unknown: the lower bound the ranking was computed at (what depends on T is in t_dependent)."""
        t_dependent: dict[int, tuple[int, int] | None] = {}
        victim_thread: int | None = None
        kernel_row: int | None = None

        def result(verdict: Verdict, reason: str | None, ranking: Ranking | None = None, mv: Task | None = None,
                   **kw: Any) -> EventAnalysis:
            return EventAnalysis(raw, era, era_source, alternatives, domain, ranking, verdict, reason, mv,
                                 notes=notes, page_kb=page_kb, t_low=t_low if ranking is not None else None,
                                 t_dependent=t_dependent if ranking is not None else {}, victim_thread=victim_thread,
                                 kernel_row=kernel_row if ranking is not None else None,
                                 evidence_range=evidence[:2],
                                 **kw)

        if insane is not None:
            return result(Verdict.UNDECIDABLE, insane)
        if domain.constraint not in _KNOWN_CONSTRAINTS:
            return result(Verdict.UNDECIDABLE, f"{domain.constraint} is no constraint a mainline kernel prints (a "
                          "patched kernel): how it chooses its victim is not modelled")
        if ev.panic and ev.panic.startswith(INIT_PANIC) and kernel_pid is not None:
            how = f" by memory.oom.group {ev.oom_group_path}" if ev.oom_group_path else ""
            notes.append(f"global init (pid 1) was killed{how}, and the kernel panicked when it exited ('{ev.panic}'): "
                         "this OOM took the machine down")
        if ev.no_killable:
            notes.extend(_no_killable_notes(ev, domain))
            clock = _clock(ev)
            known = {pid: name for pid, (name, c) in (*self.victims.get(key, {}).items(),
                                                      *self.reaped.get(key, {}).items()) if c == clock}
            eligible = [r for r in (table.rows if table is not None else ()) if r.oom_score_adj is not None
                        and r.oom_score_adj > -1000 and known.get(r.pid) != r.name]
            if eligible:
                shown = ", ".join(f"{r.pid} ({r.name}, adj {r.oom_score_adj})" for r in eligible[:5])
                notes.append(f"the kernel found no killable process, yet {len(eligible)} row(s) of the task table have "
                             f"an oom_score_adj above -1000 ({shown}{', ...' if len(eligible) > 5 else ''}): the "
                             "mainline rules skip them only for what a table does not show (an OOM victim the "
                             "oom_reaper is done with, MMF_OOM_SKIP; a task in vfork()), else the kernel is patched")
            return result(Verdict.UNDECIDABLE, "the kernel found no killable process"
                          + (f" and panicked: {ev.panic}" if ev.panic else ""))
        panicked = f"the kernel panicked instead of killing: {ev.panic}" if ev.panic and kernel_pid is None else None
        if panicked and (table is None or not table.rows or era.scoring == "legacy"):
            return result(Verdict.UNDECIDABLE, panicked)
        policy = _allocating_task_verdict(ev, kernel_pid)
        if policy is not None and (table is None or not table.rows or era.scoring == "legacy"):
            return result(*policy)
        if table is None or not table.rows:
            cut_rows = any("task-table row" in n and "table is incomplete" in n for n in ev.notes)
            if (table is not None and table.truncated) or cut_rows:
                why = ("the task table is in the log but incomplete: its rows were cut short or could not be used "
                       "(see the notes)")
            else:
                why = "no task table in the log (vm.oom_dump_tasks=0, ratelimited, or not captured)"
            return result(Verdict.UNDECIDABLE, why if kernel_pid is not None or ev.selection else
                          why + "; the kernel's choice is not in the log either")
        if era.scoring == "legacy":
            return result(Verdict.UNDECIDABLE, f"{era.name} scored with a heuristic (cpu time, run time, nice, "
                          "capabilities) whose inputs are not in OOM logs")
        clock = _clock(ev)
        prev = {pid: name for pid, (name, c) in self.victims.get(key, {}).items() if c == clock}
        # a reused pid with another name is another task
        skipped_prev = [r.pid for r in table.rows if prev.get(r.pid) == r.name and r.pid != kernel_pid]
        reaped = {pid: name for pid, (name, c) in self.reaped.get(key, {}).items()
                  if c == clock} if era.skips_oom_skip else {}
        skipped_reaped = [r.pid for r in table.rows if reaped.get(r.pid) == r.name and r.pid != kernel_pid
                          and r.pid not in skipped_prev]
        tasks = [row_to_task(r, skip=r.pid in skipped_prev or r.pid in skipped_reaped) for r in table.rows]
        if skipped_prev:
            notes.append(f"previous OOM victims still in the table, not candidates again (MMF_OOM_SKIP): "
                         f"{', '.join(map(str, skipped_prev))}")
        if skipped_reaped:
            notes.append("reaped by the oom_reaper earlier in the log, so previous victims (MMF_OOM_REAPED on 4.7, "
                         f"MMF_OOM_SKIP from 4.8): not candidates again: {', '.join(map(str, skipped_reaped))}")
        if not all(t.rss_split_known for t in tasks):
            notes.append("this table prints only total rss; anon/file/shmem split unknown (sum is exact)")
        if _lacks_swap(ev):
            notes.append(_HEADERLESS_NOTE if _headerless(ev) else
                         "this table format has no swap or page-table columns: scores are lower bounds")
        t_unknown = domain.totalpages is None
        # with T unknown, only adj terms and the T-scaled root bonuses could change the ranking
        t_matters = t_unknown and (any(t.oom_score_adj != 0 for t in tasks)
                                   or era.root_bonus in ("adj30", "permille30"))
        t_low = _t_lower_bound(domain, tasks) if t_unknown else None
        if t_low is not None:
            T = t_low  # computed at T's lower bound; what depends on T is not shown (t_dependent)
            if t_matters:
                notes.append(domain.how)
        else:
            assert domain.totalpages is not None
            T = domain.totalpages
        pids = {t.pid for t in tasks}
        if kernel_pid is not None and kernel_pid not in pids and (ev.selection is None or ev.selection.pid not in pids):
            thread = _thread_row(ev, eras, tasks, None if t_unknown else T, page_kb,
                                 domain.constraint == "CONSTRAINT_MEMCG")
            if thread is not None:
                notes.append(f"the kernel's victim {kernel_pid} is not a row of the task table but a thread of "
                             f"{thread.pid} ({thread.name}): " + _THREAD_WHY)
                victim_thread, kernel_pid = kernel_pid, thread.pid
        kernel_row = next((p for p in (ev.selection.pid if ev.selection else None, kernel_pid) if p in pids), None)
        # The printed "score S" (2.6.36-5.0) pins down what logs omit: which candidate era, whether the
        # chosen task had CAP_SYS_ADMIN (uid 0 in a container usually does not), and T's swap part.
        score_check = None
        if ev.selection is not None and ev.selection.kind not in ("allocating_task", "unchecked") and not t_unknown:
            res = _resolve_by_score(ev, eras, tasks, T, domain, kernel_pid, page_kb * 1024)
            if res is not None:
                score_check, era2, tasks, T2, note = res
                if note:
                    notes.append(note)
                if T2 != domain.totalpages:  # inferred from the printed score
                    domain.totalpages, domain.how, domain.at_least = T2, note or domain.how, False
                elif score_check.matches and not domain.exact and _score_pins_t(ev.selection.score):
                    domain.exact = True
                    domain.how += f"; confirmed by the printed score {ev.selection.score}"
                elif score_check.matches and not domain.exact:
                    rng = _score_t_range(ev, era2, tasks, kernel_pid, T2, page_kb * 1024)
                    if rng is not None:
                        domain.how += (f"; consistent with the printed score {ev.selection.score}, which every T in "
                                       f"{rng[0]}..{rng[1]} gives")
                if era2 is not era:
                    eras = [era2] + [e for e in eras if e is not era2]
                    era = era2
                    alternatives = [e.name for e in eras[1:]]
                    era_source += f"; the printed score {ev.selection.score} matches {era.name} rules"
                T = T2
        release = printed_release(ev) or "unknown"
        od = recovered_domain(tasks, domain.meminfo, totalpages=T, page_size=page_kb * 1024, memcg=domain.memcg,
                              constraint=model_constraint(domain.constraint), exact=domain.exact)
        rankings = [rank_domain(od, release=release, era=e) for e in eras]
        ranking = rankings[0]
        sel = ranking.selection
        model_chosen = sel.chosen
        model_victim = sel.victim
        t_decided = False
        if t_low is not None:
            t_dependent = _t_dependent(tasks, era, page_kb * 1024)
            if t_matters:
                t_decided = _wins_for_every_t(model_chosen, tasks, era, domain.constraint == "CONSTRAINT_MEMCG",
                                              t_low, None, page_kb * 1024)
        if policy is not None:  # the table plays no part in the kernel's choice (shown as whom a scan would pick)
            return result(*policy, ranking, None)
        if panicked and (domain.constraint == "CONSTRAINT_MEMCG" and ev.memcg is None and ev.meminfo is not None
                         and ev.meminfo.has_header):
            # check_panic_on_oom() of kernels before 4.6 printed the header without the memcg: the machine's
            # Mem-Info and every process, while the kernel would have chosen among the memcg's tasks only
            notes.append("this memcg OOM's report lists every process of the machine (panic_on_oom printed the "
                         "header without the memcg): which of them are in the memcg is not in the log, so no pick is "
                         "made from it")
            return result(Verdict.UNDECIDABLE, panicked, ranking, None)
        if panicked:
            notes.append("the ranking shows whom the model would have chosen had the kernel killed")
            return result(Verdict.UNDECIDABLE, panicked, ranking, model_victim,
                          explanation=_explain(ranking, None, t_dependent, t_low))
        if (domain.at_least and not domain.exact and model_chosen is not None
                and not _wins_for_every_t(model_chosen, tasks, era, True, T, None, page_kb * 1024)):
            notes.append(f"T is at least {T} pages and scored at that (no host swap, or swappiness 0); the host's "
                         "swap, which a memcg report does not print, would make T larger, and a larger T changes the "
                         "model's choice")
        if domain.t_range is not None and not domain.exact and T == domain.t_range[0]:
            # T is only bounded: adj terms are linear in T//1000, so a task that wins at both ends wins
            # throughout; otherwise the log cannot tell
            hi = domain.t_range[1]
            od_hi = recovered_domain(tasks, domain.meminfo, totalpages=hi, page_size=page_kb * 1024,
                                     memcg=domain.memcg, constraint=model_constraint(domain.constraint),
                                     exact=domain.exact)
            top_hi = rank_domain(od_hi, release=release, era=era).selection.chosen
            if (top_hi.pid if top_hi else None) != (model_chosen.pid if model_chosen else None):
                return result(Verdict.UNDECIDABLE, f"T is only known to lie in {T}..{hi} ({domain.how}) and the "
                              "choice changes within it", ranking, model_victim)
            notes.append(f"T is only known to lie in {T}..{hi} pages; the model's choice is the same at both ends")
        notes.extend(_caveats(ev, era, tasks))
        extra = unknown_columns(table.columns)
        if extra:
            return result(Verdict.UNDECIDABLE, f"the task table has {len(extra)} column(s) no mainline kernel prints "
                          f"({', '.join(extra)}): a patched kernel, whose choice may use them (not modelled)",
                          ranking, model_victim, explanation=_explain(ranking, kernel_pid, t_dependent, t_low),
                          score_check=score_check)
        if table.filtered or table.truncated:
            what = (f"short: a global OOM's table lists every user process, this one {len(table.rows)} (a filtered "
                    "log, unless the machine ran only that many, e.g. at boot)" if table.filtered
                    else f"incomplete ({table.truncated_why or 'rows cut off or unusable: see the notes'})")
            return result(Verdict.UNDECIDABLE, f"the task table is {what}: other candidates may be missing",
                          ranking, model_victim, explanation=_explain(ranking, kernel_pid, t_dependent, t_low),
                          score_check=score_check)
        if t_matters and not t_decided:
            return result(Verdict.UNDECIDABLE, "T is unknown (" + domain.how + ") and oom_score_adj / the root "
                          "bonus make the ranking depend on it", ranking, model_victim)
        if t_decided:
            notes.append(f"T is unknown, but no value of T (≥ {t_low}: {_t_bound_why(domain)}) "
                         f"changes the model's choice; badness and adj terms that depend on T are not shown")
        if page_alts and model_chosen is not None:
            other = {kb: _pick_at_page_kb(ev, era, tasks, kb, host_swap_kb, release) for kb in page_alts}
            other = {kb: pid for kb, pid in other.items() if pid != model_chosen.pid}
            if other:
                return result(Verdict.UNDECIDABLE, f"the report does not show the page size ({page_kb} KiB "
                              "assumed) and the model's choice depends on it: with "
                              + "; ".join(f"{', '.join(str(kb) for kb in other if other[kb] == pid)} KiB pages it "
                                          f"picks {pid}" for pid in dict.fromkeys(other.values())),
                              ranking, model_victim, explanation=_explain(ranking, None, t_dependent, t_low))
        if kernel_pid is None and ev.selection is None:
            if ev.already_exiting:
                pid, name, _kind = ev.already_exiting[0]
                agree = model_victim is not None and model_victim.pid == pid
                return result(Verdict.AGREES if agree else Verdict.DISAGREES,
                              f"the kernel chose {pid} ({name}), already exiting, and skipped the kill"
                              + ("" if agree else "; the model picks " + (str(model_victim.pid) if model_victim
                                                                              else "no task")),
                              ranking, model_victim, score_check=score_check)
            return result(Verdict.UNDECIDABLE, "the kernel's choice is not in the log (no selection or kill line; "
                          "'Out of memory' lines are KERN_ERR and some syslog setups drop them)",
                          ranking, model_victim, explanation=_explain(ranking, None, t_dependent, t_low))
        kernel_chosen = ev.selection.pid if ev.selection is not None else kernel_pid
        # the selection line names a thread on 2.6.36-4.6 (thread scan): map it to its row by tgid
        if kernel_chosen not in pids:
            kernel_chosen = kernel_pid if kernel_pid in pids else kernel_chosen
        explanation = _explain(ranking, kernel_pid if kernel_pid in pids else None, t_dependent, t_low)
        if kernel_chosen not in pids and kernel_pid not in pids:
            return result(Verdict.DISAGREES if model_victim else Verdict.UNDECIDABLE,
                          f"the kernel's {'victim' if kernel_pid is not None else 'selected task'} "
                          f"{kernel_pid if kernel_pid is not None else kernel_chosen} is not in the task table (it may have been "
                          "printed from another domain, or the table is incomplete)", ranking, model_victim,
                          explanation=explanation, score_check=score_check)
        agree_chosen = model_chosen is not None and model_chosen.pid == kernel_chosen
        if agree_chosen and kernel_pid is not None and kernel_pid != kernel_chosen:
            notes.append(f"the kernel chose {kernel_chosen} but killed {kernel_pid}: "
                         + ("a child sacrificed in its place (parent/child links are not in logs)"
                            if era.sacrifice_child else "another process of the same selection"))
        if agree_chosen:
            detail: str | None = "T is unknown but no value of it changes the outcome" if t_decided else None
            if score_check is not None and not score_check.matches:
                detail = (f"same victim; printed score {score_check.printed} vs model {score_check.model}: "
                          f"{score_check.why}")
            if kernel_pid is None:
                detail = "; ".join(x for x in (_SELECTION_ONLY, detail) if x)
            return result(Verdict.AGREES, detail, ranking, model_victim, score_check=score_check, explanation=explanation)
        # disagreement: find the most likely cause
        for e, r in zip(eras[1:], rankings[1:]):
            if (r.selection.chosen is not None and r.selection.chosen.pid == kernel_chosen
                    and (not t_matters or _wins_for_every_t(r.selection.chosen, tasks, e,
                                                            domain.constraint == "CONSTRAINT_MEMCG", T, None,
                                                            page_kb * 1024))):
                notes.append(f"the {e.name} rules (also consistent with this format) pick the kernel's victim")
                if t_low is not None:
                    t_dependent = _t_dependent(tasks, e, page_kb * 1024)
                return result(Verdict.AGREES, f"under {e.name} rules; the format fits {', '.join(x.name for x in eras)}",
                              r, r.selection.victim, score_check=score_check,
                              explanation=_explain(r, kernel_pid, t_dependent, t_low))
        assert kernel_chosen is not None  # in pids (checked above)
        kv = ranking.get(kernel_chosen)
        if _lacks_swap(ev):
            implied = f" ({score_check.implied})" if score_check and not score_check.matches else ""
            return result(Verdict.UNDECIDABLE, (_HEADERLESS_NOTE if _headerless(ev) else
                                                "this table format prints no swap or page-table columns, which the "
                                                "kernel counted; the model's scores are lower bounds") + implied,
                          ranking, model_victim, score_check=score_check, explanation=explanation)
        cause = (_cause(kv, sel.chosen_points, domain, era, T) if t_low is None else
                 f"the kernel's victim {kv.task.pid} ({kv.task.name}) loses to the model's pick whatever T is (T is "
                 "not in the log): a task outside the visible rules (already exiting, being reaped, or a vendor "
                 "change)" if kv.eligible else _cause(kv, sel.chosen_points, domain, era, T))
        return result(Verdict.DISAGREES, cause, ranking, model_victim, score_check=score_check, explanation=explanation)


def _no_killable_notes(ev: OomEvent, domain: Domain) -> list[str]:
    """What the report of an OOM that found nothing to kill shows of its domain (:func:`_no_killable_domain`)."""
    if ev.domain is not None:
        return []
    if ev.panic == DEADLOCK_PANIC and domain.constraint != UNKNOWN_CONSTRAINT:
        return [f"'{DEADLOCK_PANIC}' is only reached by an OOM outside a memcg (and not sysrq-f's): not a memcg OOM"]
    if domain.constraint == "CONSTRAINT_MEMCG":
        return [f"a memcg OOM: the same host's next OOM report follows at line {ev.followed_by} with no panic between, "
                f"while 4.19+ kernels panic ('{DEADLOCK_PANIC}') right after this line in any other OOM but sysrq-f's "
                f"(and the invoked line's order={ev.invoked.order if ev.invoked else '?'} is no sysrq-f)"]
    if ev.panic is None and ev.followed_by is not None:
        return [f"the same host's next OOM report follows at line {ev.followed_by} with no panic between: a memcg OOM "
                f"or sysrq-f's, as 4.19+ kernels panic ('{DEADLOCK_PANIC}') right after this line in any other (the "
                "invoked line, whose order=-1 would tell sysrq-f, is not in the log)"]
    if ev.panic is None:
        return [f"no panic follows in the log: if the kernel printed none, this was a memcg OOM (or sysrq-f's), as "
                f"4.19+ kernels panic ('{DEADLOCK_PANIC}') right after this line in any other; the log does not show "
                "the kernel went on, so the domain is not known"]
    return []


def _allocating_task_verdict(ev: OomEvent, kernel_pid: int | None) -> tuple[Verdict, str] | None:
    """The verdict on a kill by ``vm.oom_kill_allocating_task=1`` (the ``Out of memory (oom_kill_allocating_task)``
    prefix, 2.6.24+), None for any other report. The kernel does not scan: it kills ``current``, the allocating task
    (up to 5.0 a child of it may die in its place), so the task table plays no part and the choice is checked against
    the allocating task the report names (the ``CPU:``/``Pid:`` line, else the ``invoked oom-killer`` line's comm)."""
    sel = ev.selection
    kills = [k for k in ev.killed if k.kind == "allocating_task"]
    if sel is not None and sel.kind == "allocating_task":
        pid, name = sel.pid, sel.name
    elif sel is None and kills:
        pid, name = kills[0].pid, kills[0].name
    else:
        return None
    inv, cpu = ev.invoked, ev.cpu
    cur_pid = (inv.pid if inv is not None and inv.pid is not None else None) or (cpu.pid if cpu is not None else None)
    cur_comm = (inv.comm if inv is not None else None) or (cpu.comm if cpu is not None else None)
    what = f"{pid} ({name})" if name is not None else str(pid)
    if (cur_pid is not None and cur_pid != pid) or (cur_pid is None and cur_comm is not None and name is not None
                                                    and cur_comm != name):
        cur = f"{cur_comm or '?'}" + (f" (pid {cur_pid})" if cur_pid is not None else "")
        return (Verdict.UNDECIDABLE, f"vm.oom_kill_allocating_task=1 kills the allocating task, but the line of this "
                f"policy names {what} and the report's allocating task is {cur}: these lines do not come from one "
                "report")
    reason = (f"vm.oom_kill_allocating_task=1: the kernel chose the allocating task, {what}, without scanning for a "
              "victim (the task table plays no part)")
    if cur_pid is None and cur_comm is None:
        reason += "; the report does not name the allocating task to check it against"
    if kernel_pid is not None and kernel_pid != pid:
        # the kill line's pid may be a sacrificed child, or the thread-group leader of the thread the selection
        # line named (the kill line prints the task holding the mm): logs do not show which
        reason += f"; {kernel_pid}" + (f" ({ev.victim_name})" if ev.victim_name else "") + \
            f" was killed in its place: a child of it, or its thread-group leader if {pid} is a thread"
    elif kernel_pid is None:
        reason += "; its 'Killed process' line is not in the log (the task, or a child sacrificed in its place)"
    return Verdict.AGREES, reason


# --------------------------------------------------------------------------- T unknown

def _t_lower_bound(domain: Domain, tasks: list[Task]) -> int:
    """The least T can be when the report does not give it (see :func:`_t_bound_why`)."""
    if domain.constraint == "CONSTRAINT_NONE":
        return max([t.rss + t.swapents for t in tasks] + [1])
    return 1


def _t_bound_why(domain: Domain) -> str:
    if domain.constraint == "CONSTRAINT_NONE":
        return "the largest task's rss + swap entries, which RAM + swap hold"
    return "no lower bound: a memory cgroup's limit can be a single page"


def _linear_terms(task: Task, era: Era, page_size: int) -> tuple[int, int]:
    """A page-era badness as ``base + coefficient × (T/1000)`` before the clamp (the coefficient is the
    oom_score_adj, less 30 for the 3.5-3.13 root bonus)."""
    b0 = badness_terms(task, 0, era, page_size=page_size)       # T/1000 = 0
    b1 = badness_terms(task, 1000, era, page_size=page_size)    # T/1000 = 1
    return b0.unclamped, b1.unclamped - b0.unclamped


def _t_dependent(tasks: list[Task], era: Era, page_size: int) -> dict[int, tuple[int, int] | None]:
    """The eligible tasks whose badness depends on T: pid → (base, coefficient), None for per mille."""
    out: dict[int, tuple[int, int] | None] = {}
    if era.scoring == "legacy":
        return out
    for t in tasks:
        if not badness_terms(t, 1000, era, page_size=page_size).eligible:
            continue
        if era.scoring == "permille":
            out[t.pid] = None
            continue
        base, coef = _linear_terms(t, era, page_size)
        if coef:
            out[t.pid] = (base, coef)
    return out


def _wins_for_every_t(winner: Task | None, tasks: list[Task], era: Era, memcg: bool, lo: int, hi: int | None,
                      page_size: int) -> bool:
    """Whether ``winner`` is the kernel's choice for every T in [lo, hi] (hi None: unbounded).

    3.5+ (pages): badness is ``base + coef × (T/1000)``, clamped to at least 1 before 5.9. Against each rival the
    comparison changes only where one of the lines crosses the other or the clamp: checking both ends of the range
    and both sides of each such point covers every T. 2.6.36-3.4 (per mille): ``base×1000/T + adj`` (−30 for the
    root bonus), clamped to 1..1000; the winner must lead by at least one point whatever T is (or tie with the
    kernel's tie rule on its side), which bounds the floors from below at the end of the range where they are
    least favourable. Ties follow the era's rule (first or last in scan order)."""
    if winner is None or era.scoring == "legacy":
        return False
    order = {t.pid: i for i, t in enumerate(tasks)}
    first = era.tie(memcg).value == "first"
    elig = [t for t in tasks if badness_terms(t, max(lo, 1), era, page_size=page_size).eligible]
    if winner.pid not in {t.pid for t in elig}:
        return False

    def tie_to_winner(j: Task) -> bool:
        return (order[winner.pid] < order[j.pid]) == first

    if era.scoring == "permille":
        if era.overflow32 and any(badness_terms(t, 1000, era, page_size=page_size).base * 1000 >= 2**31
                                  for t in elig):
            return False  # 2.6.36-3.1 wraps points×1000 at 32 bits: not monotone in T
        lo = max(lo, 1)

        def terms(t: Task) -> tuple[int, int]:
            b = badness_terms(t, lo, era, page_size=page_size)
            return b.base, b.adj - b.root_bonus

        bw, aw = terms(winner)
        for j in elig:
            if j.pid == winner.pid:
                continue
            bj, aj = terms(j)
            if bw >= bj:
                floor_gap = 0 if hi is None else (bw - bj) * 1000 // hi
            else:
                floor_gap = (bw - bj) * 1000 // lo
            lead = aw - aj + floor_gap          # the winner's unclamped badness leads j's by at least this
            if tie_to_winner(j):
                if lead < 0:
                    return False
                continue
            if lead < 1:
                return False
            if bj * 1000 // lo + aj >= 1000:    # both may clamp to 1000 (at small T)
                return False
            w_min = aw if hi is None else bw * 1000 // hi + aw
            if w_min <= 1:                      # both may clamp to 1 (at large T)
                return False
        return True

    clamp = era.scoring == "pages"
    k_lo = lo // 1000
    k_hi = None if hi is None else hi // 1000
    lines = {t.pid: _linear_terms(t, era, page_size) for t in elig}

    def value(pid: int, k: int) -> int:
        c, a = lines[pid]
        v = c + a * k
        return max(v, 1) if clamp else v

    cw, aw = lines[winner.pid]
    for j in elig:
        if j.pid == winner.pid:
            continue
        cj, aj = lines[j.pid]
        crit = {k_lo}
        for d0, d1 in ((cw - cj, aw - aj), (cw - 1, aw), (cj - 1, aj)):
            if d1:
                z = (-d0) // d1
                crit.update((z, z + 1))
        top = k_hi if k_hi is not None else max(crit) + 1
        crit.add(top)
        for k in crit:
            if not k_lo <= k <= top:
                continue
            vw, vj = value(winner.pid, k), value(j.pid, k)
            if vw < vj or (vw == vj and not tie_to_winner(j)):
                return False
    return True


_THREAD_WHY = ("the kernel's scan went over threads (global OOMs 2.6.36-4.6, memcg OOMs up to 5.2) and printed the "
               "thread it chose, while the table has one row per process; the kill line's anon+file+shmem rss "
               "equals that row's rss (a shared mm) and no other row's, and the printed score, where there is one, "
               "matches it: judged as that process")


def _thread_scan(era: Era, memcg: bool) -> bool:
    """Whether the era's victim scan visits every thread (and so may choose and print a non-leader's pid): global
    OOMs 2.6.36-4.6 (``for_each_process_thread``; ``for_each_process`` from 4.7), memcg OOMs up to 5.2
    (``css_task_iter`` over tasks; ``CSS_TASK_ITER_PROCS`` from 5.3), and every thread up to 2.6.31 (spec §2)."""
    last = era.last or (99, 0, 0)
    if last <= (2, 6, 31):
        return True
    return era.first >= (2, 6, 36) and last <= ((5, 2, 9999) if memcg else (4, 6, 9999))


def _thread_row(ev: OomEvent, eras: list[Era], tasks: list[Task], T: int | None, page_kb: int,
                memcg: bool) -> Task | None:
    """The row (process) whose thread the kernel killed, when the killed pid is not a row: only where the era scans
    threads, and only when exactly one row's rss equals the kill line's anon+file+shmem rss (the thread shares the
    process's mm) and, with a printed score and a known T, that row's score under some candidate era and
    CAP_SYS_ADMIN variant is the printed one."""
    k = ev.killed[0] if ev.killed else None
    if k is None or k.anon_rss_kb is None or k.file_rss_kb is None or not any(_thread_scan(e, memcg) for e in eras):
        return None
    kb = k.anon_rss_kb + k.file_rss_kb + (k.shmem_rss_kb or 0)
    if kb % page_kb:
        return None
    rows = [t for t in tasks if t.rss == kb // page_kb]
    sel = ev.selection
    if sel is not None and sel.pid != k.pid:
        return None   # the selection names yet another pid: a sacrificed child, not a thread
    S = sel.score if sel is not None else None
    if S is not None and S >= 0 and T is not None:
        def prints_s(t: Task) -> bool:
            variants = [t] + ([t.with_(cap_sys_admin=False)] if t.uid == 0 else [])
            return any(_printed_score(e, badness_terms(v, T, e, page_size=page_kb * 1024).points, T) == S
                       for e in eras for v in variants)
        rows = [t for t in rows if prints_s(t)]
    return rows[0] if len(rows) == 1 else None


def _lacks_swap(ev: OomEvent) -> bool:
    """Whether the rows give no swap count: the table's format has none (2.6.25-3.5), or its header is not in the log."""
    return ev.table is not None and bool(ev.table.rows) and ev.table.rows[0].swapents is None


def _headerless(ev: OomEvent) -> bool:
    """Task-table rows without their header: only the columns every format starts with are known."""
    return ev.table is not None and not ev.table.columns


_HEADERLESS_NOTE = ("the task table's header is not in the log, so which columns follow rss is not known: swap and "
                    "page tables are not counted and oom_score_adj is taken as 0 (the scores are not the kernel's)")


def _resolve_by_score(ev: OomEvent, eras: list[Era], tasks: list[Task], T: int, domain: Domain,
                      kernel_pid: int | None, page_size: int
                      ) -> tuple[ScoreCheck, Era, list[Task], int, str | None] | None:
    """Check the printed ``score S`` against the kernel's chosen row; resolve era / CAP_SYS_ADMIN / T."""
    sel = ev.selection
    assert sel is not None
    by_pid = {t.pid: t for t in tasks}
    row = by_pid.get(sel.pid) or by_pid.get(kernel_pid) if kernel_pid is not None else by_pid.get(sel.pid)
    if row is None:
        return None
    S = sel.score
    if S is None:   # cut off the line
        return None
    checkable = [e for e in eras if _printed_score(e, 1, 1000) is not None]
    if not checkable:
        return None
    variants = [(e, row) for e in checkable]
    if row.uid == 0:
        variants += [(e, row.with_(cap_sys_admin=False)) for e in checkable]
    for e, r in variants:
        pts = badness_terms(r, T, e, page_size=page_size).points
        if _printed_score(e, pts, T) == S:
            note = None
            new_tasks = tasks
            if r is not row:
                new_tasks = [r if t.pid == r.pid else t for t in tasks]
                note = (f"the printed score {S} matches only without the root bonus: {r.pid} ({r.name}) ran as uid 0 "
                        "without CAP_SYS_ADMIN (e.g. a container's root)")
            return ScoreCheck(S, S, True), e, new_tasks, T, note
    era = eras[0]
    pts = badness_terms(row, T, era, page_size=page_size).points
    model = _printed_score(era, pts, T)
    assert model is not None
    if not domain.exact and era.scoring == "pages" and pts > 0 and S > 0 and not _lacks_swap(ev):
        # T is the unknown: every T in (pts*1000/(S+1), pts*1000/S] prints S for these points (not when the table
        # has no swap or page-table columns: the points are then a lower bound, and so would T be)
        t_lo, t_hi = pts * 1000 // (S + 1) + 1, pts * 1000 // S
        if t_lo <= t_hi:
            note = f"T inferred from the printed score {S}: {t_lo}..{t_hi} pages (the report gives {domain.how})"
            m = domain.memcg
            if m is not None and m.memory_max is not None and t_lo > m.memory_max:
                sw_lo, sw_hi = t_lo - m.memory_max, t_hi - m.memory_max
                note += f"; so the host had about {sw_lo}..{sw_hi} swap pages ({sw_hi * page_size / 1024 ** 3:.1f} GiB)"
            return ScoreCheck(S, S, True, inferred_totalpages=(t_lo, t_hi)), era, tasks, t_hi, note
    implied_points: tuple[int, int] | None = None
    if era.scoring == "permille":
        implied = (f"the kernel's score {S} means about {S * T // 1000} pages for {row.pid} ({row.name}); "
                   f"the table shows {row.rss + row.swapents}")
    else:
        lo_pts, hi_pts = S * T // 1000, (S + 1) * T // 1000
        implied_points = (lo_pts, hi_pts)
        implied = f"the kernel counted {lo_pts}..{hi_pts} points for {row.pid} ({row.name}); the table gives {pts}"
    causes = []
    if _lacks_swap(ev):
        causes.append("the task table's header is not in the log (columns after rss unknown)" if _headerless(ev)
                      else "this table format has no swap/page-table columns")
    if not domain.exact:
        causes.append(f"T is approximate ({domain.how})")
    if not causes:
        causes.append("values moved between the selection and the table dump")
    check = ScoreCheck(S, model, False, implied + "; " + "; ".join(causes), implied=implied,
                       implied_points=implied_points)
    return check, era, tasks, T, None


def _caveats(ev: OomEvent, era: Era, tasks: list[Task]) -> list[str]:
    out = []
    if era.root_bonus and any(t.uid == 0 and not isinstance(t.cap_sys_admin, bool) for t in tasks):
        proven = any(isinstance(t.cap_sys_admin, bool) for t in tasks)
        out.append("logs do not show CAP_SYS_ADMIN: the root bonus was approximated by uid 0"
                   + (" (for the tasks the printed score does not decide)" if proven else ""))
    try:
        v = parse_version(printed_release(ev) or "0.0")
    except KernelVersionError:
        v = (0, 0, 0)
    if v >= (6, 2, 0):
        out.append("6.2+ kernels score with approximate per-CPU RSS counters; table values are the same reads")
    return out


def _cause(kv: Any, best: int, domain: Domain, era: Era, T: int) -> str:
    """The most likely reason the kernel's victim ``kv`` lost to the model's pick (``best`` points)."""
    if not kv.eligible:
        return f"the kernel killed {kv.task.pid} ({kv.task.name}), which the model deems ineligible: {kv.reason}"
    gap = best - kv.terms.points
    # pages: 0.5% of the victim's points or 16 pages; per mille: the rounding of one point either side
    tie_room = max(abs(best) // 200, 16) if era.badness_unit == "pages" else 1
    if 0 <= gap <= tie_room:
        return (f"near tie: the model's pick leads the kernel's by {points_text(era, gap, T)}; the table is printed "
                "after the selection, so values drift by a few pages (or the scan order differs)")
    if not domain.exact:
        return f"T is approximate ({domain.how}); oom_score_adj terms depend on it"
    return (f"the kernel's victim {kv.task.pid} ({kv.task.name}) scores {kv.terms.points}, "
            f"{points_text(era, gap, T)} below the model's pick: a task outside the visible rules (already "
            "exiting, being reaped, or a vendor change)")


def points_text(era: Era, points: int, T: int | None) -> str:
    """``points`` of badness (or a gap between two) in the era's unit, with the page figure when one can be
    derived: ``"920 pages"``, ``"37 points per mille of T (about 74565 pages)"``, ``"37 heuristic points"``."""
    unit = era.badness_unit
    if unit == "pages":
        return f"{points} pages"
    if unit == "permille":
        as_pages = badness_pages(era, points, T)
        return f"{points} points per mille of T" + (f" (about {as_pages[0]} pages)" if as_pages else "")
    return f"{points} heuristic points"


def _explain(ranking: Ranking, kernel_pid: int | None, t_dependent: dict[int, tuple[int, int] | None] | None = None,
             t_low: int | None = None) -> EventExplanation | None:
    """The model victim's explanation (see :class:`EventExplanation`); None without a victim. ``t_dependent``
    (T unknown): the tasks whose badness depends on T; figures that involve them are left out (None). ``t_low``
    (T unknown, the ranking scored at this lower bound): the oom_score_adj that would spare the victim is left out
    even when no badness depends on T, since its term is adj × T/1000 pages, unless it is -1."""
    v = ranking.victim
    if v is None:
        return None
    era, T = ranking.era, ranking.totalpages
    dep = t_dependent or {}
    ex = explain(ranking, v.task.pid)
    vdep = v.task.pid in dep
    top = tuple(TopRow(t.task.pid, t.task.name, None if t.task.pid in dep else t.terms.points, t.terms.rss,
                       t.terms.swapents, t.terms.pgtables,
                       None if t.task.pid in dep and era.scoring != "permille" else t.terms.adj_term,
                       None if vdep or t.task.pid in dep else t.terms.points - v.terms.points)
                for t in ranking.eligible[:5])
    if dep or any(t.eligible and t.task.pid in dep for t in ranking.tasks):
        # T unknown: a margin only where neither side depends on T; the adj that spares the victim always does
        # the runner-up at T's lower bound stays the runner-up at any larger T only when no other task gains
        # with T (a negative or zero coefficient)
        stable = all(lin is not None and lin[1] <= 0 for pid, lin in dep.items() if pid != v.task.pid)
        if vdep or not stable or (ex.rival is not None and ex.rival.task.pid in dep):
            ex.margin = ex.shed_pages = None
            if not stable:
                ex.rival = None
        ex.spare_adj = None
    if t_low is not None and ex.spare_adj != -1:
        # computed at T's lower bound it spares the victim at any larger T too, but the threshold rises towards
        # -1 as T grows: only -1 (the least change) is the threshold whatever T is
        ex.spare_adj = None
    margin_pages = badness_pages(era, ex.margin, T) if ex.margin is not None else None
    shed_pages = badness_pages(era, ex.shed_pages, T) if ex.shed_pages is not None else None
    return EventExplanation(
        badness_unit=era.badness_unit,
        victim=TaskBadness(v.task.pid, v.task.name, v.terms.points),
        runner_up=TaskBadness(ex.rival.task.pid, ex.rival.task.name, ex.rival.terms.points) if ex.rival else None,
        margin=ex.margin,
        margin_pages=margin_pages[0] if margin_pages else None,
        margin_pages_exact=margin_pages[1] if margin_pages else None,
        margin_text=points_text(era, ex.margin, T) if ex.margin is not None else None,
        spare_adj=ex.spare_adj,
        shed_points=ex.shed_pages,
        shed_pages=shed_pages[0] if shed_pages else None,
        shed_pages_exact=shed_pages[1] if shed_pages else None,
        top=top,
        kernel_victim_rank=next((t.rank for t in ranking.tasks if t.task.pid == kernel_pid), None)
        if kernel_pid is not None else None,
    )


_FRAGMENT_UPTIME_S = 1.0
"""How far apart (seconds of uptime) two parts of one report may be stamped: a report prints within milliseconds."""


def _pids(ev: OomEvent) -> set[int]:
    """The victim pids an event's selection, summary and kill lines name."""
    out = {k.pid for k in ev.killed}
    if ev.selection is not None:
        out.add(ev.selection.pid)
    if ev.summary is not None and ev.summary.pid is not None:
        out.add(ev.summary.pid)
    return out


def _fragment_of(f: OomEvent, e: OomEvent, f_after_e: bool) -> bool:
    """Whether ``f`` is a stray part of the report ``e`` next to it (lines quoted out of order, ``journalctl -r``
    putting the kill line before its summary, a second grep showing a summary line again): same source and host,
    the same time stamp (and uptime within a second), no task table or Mem-Info of its own, and either every victim
    pid it names among ``e``'s (the kernel kills one pid once: the same pid at the same instant is the same OOM), or,
    naming none, an ``invoked oom-killer`` line alone that ``e`` lacks, stamped before ``e`` although printed after it
    (a later OOM's would be stamped after)."""
    if (f.source != e.source or f.host != e.host or f.table is not None or f.meminfo is not None
            or f.memcg is not None or f.timestamp is None or f.timestamp != e.timestamp):
        return False
    if f.uptime is not None and e.uptime is not None and abs(f.uptime - e.uptime) > _FRAGMENT_UPTIME_S:
        return False
    fp = _pids(f)
    if fp:
        return fp <= _pids(e)
    return (f_after_e and f.invoked is not None and e.invoked is None and f.uptime is not None
            and e.uptime is not None and f.uptime < e.uptime and f.summary is None and f.selection is None
            and not f.killed)


def _fragment(f: OomEvent, e: OomEvent) -> EventAnalysis:
    pids = sorted(_pids(f))
    what = ", ".join(x for x in (f"host {f.host}" if f.host else "", f"time {f.timestamp}",
                                 f"pid {', '.join(map(str, pids))}" if pids else "") if x)
    return EventAnalysis(f, None, "not analysed", [], None, None, Verdict.UNDECIDABLE,
                         f"a part of the report at lines {e.start_line}-{e.end_line} ({what}), printed apart from it "
                         "(lines quoted out of order, newest-first output, or shown again): one OOM, analysed there; "
                         "not counted again", repeat_of=(e.start_line, e.end_line))


def analyze_events(events: Iterable[OomEvent], *, strict: bool = False) -> Iterator[EventAnalysis]:
    """Analyse events in input order (streaming, one event behind to join a stray part of a report to it: see
    :func:`_fragment_of`). An event the analysis fails on becomes an ``undecidable`` verdict that says so (the run
    goes on); ``strict`` lets the exception through instead (tests, debugging)."""
    a = Analyzer(strict=strict)
    held: OomEvent | None = None
    """The last event, not yet analysed: a stray part of the next one would be dropped."""
    anchor: OomEvent | None = None
    """The last event analysed: stray parts after it are its own."""
    for ev in events:
        if held is not None:
            if _fragment_of(held, ev, False) and not _fragment_of(ev, held, True):
                yield _fragment(held, ev)
            else:
                anchor = held
                yield a.analyze(held)
            held = None
        if anchor is not None and _fragment_of(ev, anchor, True):
            yield _fragment(ev, anchor)
            continue
        held = ev
    if held is not None:
        yield a.analyze(held)


def _verdict_counts() -> dict[Verdict, int]:
    return dict.fromkeys(Verdict, 0)


@dataclass(slots=True)
class HostTally:
    host: str | None
    source: str | None
    """Set when the host prints no (distinctive) name: the events of that source only."""
    counts: dict[Verdict, int] = field(default_factory=_verdict_counts)

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "source": self.source, "events": self.events,
                **{v.value: n for v, n in self.counts.items()}}


@dataclass(slots=True)
class Tally:
    """The end-of-run count: events, agrees / disagrees / undecidable, overall and per host."""

    hosts: dict[HostKey, HostTally] = field(default_factory=dict)
    repeats: list[EventAnalysis] = field(default_factory=list)
    """Exact repeats of an event (:attr:`EventAnalysis.repeat_of`): dropped, not counted as events."""

    def add(self, a: EventAnalysis) -> None:
        if a.repeat_of is not None:
            self.repeats.append(a)
            return
        key = host_key(a.event)
        h = self.hosts.get(key)
        if h is None:
            h = self.hosts[key] = HostTally(a.event.host, None if key[0] == "host" else a.event.source)
        h.counts[a.verdict] += 1

    def counts(self) -> dict[Verdict, int]:
        out = _verdict_counts()
        for h in self.hosts.values():
            for k, n in h.counts.items():
                out[k] += n
        return out

    @property
    def events(self) -> int:
        return sum(self.counts().values())

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, **{v.value: n for v, n in self.counts().items()},
                "hosts": [h.to_dict() for h in self.hosts.values()],
                "repeats": [{"source": a.event.source, "host": a.event.host,
                             "lines": [a.event.start_line, a.event.end_line], "timestamp": a.timestamp,
                             "repeat_of": list(a.repeat_of or ())} for a in self.repeats]}
