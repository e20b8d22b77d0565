"""The one I/O boundary for live process data: everything oomlens reads from ``/proc``.

Two layers, as in psutil's ``_pslinux``:

* **Pure parsers** (module functions, no I/O): :func:`parse_stat`, :func:`parse_status`,
  :func:`parse_meminfo`, :func:`parse_zoneinfo`, :func:`parse_cgroup`. They take the raw bytes of one
  file and return values keyed by field name, never by line index.
* :class:`ProcFS`, the only object that opens files under ``/proc``. Its root is injectable
  (``ProcFS("/host/proc")``, recorded fixtures in tests). kB values become pages here, once.

Errors: every ``OSError`` raised while reading a process goes through :meth:`ProcFS._translate`:
``FileNotFoundError`` / ``ProcessLookupError`` / ``ESRCH`` become :class:`NoSuchProcess` after a
re-check that ``<root>/<pid>`` is really gone (else :class:`ProcParseError`: the process is there but
the file is not), ``PermissionError`` becomes :class:`AccessDenied`. A missing process never reads as
``0`` or ``''``.

Cost per process (the hot path of ``oomlens top``): ``status`` + ``oom_score_adj``, two
``open``/``read``/``close`` triples of raw bytes; ``status`` as the kernel prints it is read by one
anchored match (``_fast_status_match``; any other layout, and every error, goes through the general
path, which picks the needed keys out with one pattern). ``stat`` is a third read, done only when asked
(``with_stat=True``), in legacy mode (CPU times, nice), or when ``status`` has no ``Kthread:`` line
(older kernels show ``PF_KTHREAD`` only in ``stat``'s flags). Without ``stat``, ``exiting``
(PF_EXITING), ``nice``, CPU times and ``start_time_s`` keep their defaults. When pids have wrapped,
a snapshot takes creation order from :meth:`ProcFS.pidfs_id` (``pidfd_open`` + ``fstat`` + ``close``,
~3.5 µs) rather than from ``stat`` (~8 µs). Measured on 6.18 with 3,000 processes: about 21 µs per
process with the pidfd, of which ~16 µs are the nine system calls and ~5 µs the status match and Task. From
:attr:`ProcFS.parallel_min` processes on, a forked child reads half of them (:meth:`ProcFS.iter_tasks`):
on two CPUs the 3,000-process scan takes ~45 ms instead of ~65 ms.

Standard library only.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import TYPE_CHECKING

from oomlens.errors import AccessDenied, AdjustDenied, AdjustError, NoSuchProcess, ProcessError, ProcParseError
from oomlens.kernel.types import (
    OOM_ADJUST_MAX,
    OOM_DISABLE,
    OOM_SCORE_ADJ_MAX,
    OOM_SCORE_ADJ_MIN,
    UNKNOWN,
    MemInfo,
    Task,
    Unknown,
    VmSysctls,
)
from oomlens.sources.forkhelper import Helper, can_fork_a_helper, fork_helper

if TYPE_CHECKING:
    from oomlens.sources.identity import ProcessIdentity

__all__ = [
    "PF_EXITING", "PF_KTHREAD", "PROC_PID_INIT_INO", "AdjWrite", "PidCgroups", "ProcFS", "ScanStats",
    "parse_cgroup", "parse_meminfo", "parse_stat", "parse_status", "parse_zoneinfo",
]

# include/linux/sched.h
PF_EXITING = 0x00000004
PF_KTHREAD = 0x00200000
# include/uapi/linux/capability.h
CAP_SYS_RAWIO = 17
CAP_SYS_ADMIN = 21
CAP_SYS_RESOURCE = 24
PROC_PID_INIT_INO = 0xEFFFFFFC
"""Inode of the initial pid namespace (include/linux/proc_ns.h): ``/proc/1/ns/pid`` -> ``pid:[4026531836]``."""

_READ_CHUNK = 16384
_NO_MEM = (0, 0, 0, 0, 0, 0)

# --- pure parsers -------------------------------------------------------------------------------

STAT_FIELDS = (
    "pid", "comm", "state", "ppid", "pgrp", "session", "tty_nr", "tpgid", "flags", "minflt",
    "cminflt", "majflt", "cmajflt", "utime", "stime", "cutime", "cstime", "priority", "nice",
    "num_threads", "itrealvalue", "starttime", "vsize", "rss", "rsslim", "startcode", "endcode",
    "startstack", "kstkesp", "kstkeip", "signal", "blocked", "sigignore", "sigcatch", "wchan",
    "nswap", "cnswap", "exit_signal", "processor", "rt_priority", "policy",
    "delayacct_blkio_ticks", "guest_time", "cguest_time", "start_data", "end_data", "start_brk",
    "arg_start", "arg_end", "env_start", "env_end", "exit_code",
)
"""``/proc/PID/stat`` field names in order, as ``man 5 proc`` numbers them from (1) ``pid``."""


def _decode(raw: bytes) -> str:
    # A comm is bytes; undecodable ones are shown as \xNN (printable and JSON-safe).
    return raw.decode("utf-8", "backslashreplace")


def _stat_split(data: bytes, path: str) -> tuple[bytes, bytes, list[bytes]]:
    """(pid, comm, fields from ``state`` on). ``comm`` lies between the first ``(`` and the LAST
    ``)``: it may itself contain spaces, parentheses and newlines (psutil ``_parse_stat_file``)."""
    lp = data.find(b"(")
    rp = data.rfind(b")")
    if lp < 0 or rp < lp:
        raise ProcParseError(path, _decode(data[:80]), f"cannot parse {path}: no '(comm)'")
    return data[:lp].strip(), data[lp + 1:rp], data[rp + 2:].split()


def parse_stat(data: bytes, path: str = "stat") -> dict[str, int | str]:
    """Parse ``/proc/PID/stat``: field name -> value (``comm`` and ``state`` as str, the rest int).

    Kernels print a varying number of trailing fields; only the ones present are returned, but
    everything up to ``rss`` is required.
    """
    pid, comm, rest = _stat_split(data, path)
    if len(rest) < 22:  # up to and including rss
        raise ProcParseError(path, _decode(data[:120]), f"cannot parse {path}: only {len(rest) + 2} fields")
    try:
        out: dict[str, int | str] = {"pid": int(pid), "comm": _decode(comm), "state": rest[0].decode()}
        for name, raw in zip(STAT_FIELDS[3:], rest[1:]):
            out[name] = int(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProcParseError(path, _decode(data[:120]), f"cannot parse {path}: {exc}") from None
    return out


def _unescape_name(raw: bytes) -> str:
    """``Name:`` in status escapes only ``\\n`` and ``\\\\`` (``proc_task_name``, ``seq_escape_str``
    with ``ESCAPE_SPACE|ESCAPE_SPECIAL`` restricted to ``"\\n\\\\"``). A comm cannot hold NUL."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"\0").replace(b"\\n", b"\n").replace(b"\0", b"\\")
    return _decode(raw)


def _status_regex(keys: tuple[str, ...]) -> re.Pattern[bytes]:
    """One pattern that picks ``Key:\tvalue`` lines for the given keys (any order, absent ok)."""
    alt = b"|".join(re.escape(k.encode()) for k in keys)
    return re.compile(rb"\n(" + alt + rb"):[\t ]*([^\n]*)")


_TASK_STATUS_KEYS = ("State", "Tgid", "PPid", "Uid", "NSpid", "Kthread", "VmSize", "VmRSS", "RssAnon",
                     "RssFile", "RssShmem", "VmPTE", "VmSwap", "Threads", "CapEff")
_task_status_findall = _status_regex(_TASK_STATUS_KEYS).findall

# The fast path of ProcFS._build_task: one anchored match over status as the kernel prints it, its lines
# in the order of fs/proc/array.c (task_state, task_mem, task_sig, task_cap). _SKIP passes over the
# lines a release or config adds in between. Every value must have its kernel form (digits, " kB",
# lowercase hex); a file that does not match goes through the general path, which says what is wrong.
_SKIP = rb"(?:[^\n]*+\n)*?"  # possessive: a line is never re-split (20% faster than [^\n]*)
_fast_status_match = re.compile(
    rb"Name:\t([^\n]*+)\n" + _SKIP + rb"State:\t([A-Za-z])[^\n]*+\n" + _SKIP + rb"Tgid:\t(\d+)\n"
    + _SKIP + rb"PPid:\t(\d+)\n" + _SKIP + rb"Uid:\t(\d+)\t[^\n]*+\n"
    + rb"(?:" + _SKIP + rb"Kthread:\t([01])\n)?"
    + rb"(?:" + _SKIP + rb"VmSize:[\t ]*(\d+) kB\n" + _SKIP
    + rb"RssAnon:[\t ]*(\d+) kB\nRssFile:[\t ]*(\d+) kB\nRssShmem:[\t ]*(\d+) kB\n" + _SKIP
    + rb"VmPTE:[\t ]*(\d+) kB\nVmSwap:[\t ]*(\d+) kB\n)?"
    + _SKIP + rb"Threads:\t(\d+)\n" + _SKIP + rb"CapEff:\t([0-9a-f]+)\n").match


def parse_status(data: bytes, keys: tuple[str, ...] | None = None, path: str = "status") -> dict[str, str]:
    """Parse ``/proc/PID/status``: field name -> value text (``"3060 kB"``, ``"0\t0\t0\t0"``).

    ``Name`` is unescaped exactly (spaces kept, ``\\n`` and ``\\\\`` decoded). Other values are
    whitespace-stripped. With ``keys``, only those fields are picked out (one compiled pattern, no
    split of every line); absent ones are left out.
    """
    if not data.startswith(b"Name:"):
        raise ProcParseError(path, _decode(data[:40]), f"cannot parse {path}: does not start with 'Name:'")
    nl = data.find(b"\n")
    out = {"Name": _unescape_name(data[6:nl] if nl >= 0 else data[6:])}
    if keys is None:
        for line in data[nl + 1:].split(b"\n") if nl >= 0 else ():
            k, sep, v = line.partition(b":")
            if sep:
                out[_decode(k)] = _decode(v.strip())
        return out
    for k, v in _status_regex(keys).findall(data):
        out[_decode(k)] = _decode(v.strip())
    return out


def parse_meminfo(data: bytes, path: str = "meminfo") -> dict[str, int]:
    """Parse ``/proc/meminfo``: field name -> number as printed (kB for ``... kB`` lines, a count
    for ``HugePages_*``)."""
    out: dict[str, int] = {}
    for line in data.split(b"\n"):
        k, sep, v = line.partition(b":")
        if not sep:
            continue
        parts = v.split()
        try:
            out[_decode(k)] = int(parts[0])
        except (IndexError, ValueError):
            raise ProcParseError(path, _decode(line)) from None
    return out


def parse_zoneinfo(data: bytes) -> dict[int, int]:
    """``/proc/zoneinfo`` -> {node id: sum of the zones' ``present`` pages} (``node_present_pages``)."""
    out: dict[int, int] = {}
    node = None
    for line in data.split(b"\n"):
        if line.startswith(b"Node "):
            node = int(line[5:line.index(b",")])
            out.setdefault(node, 0)
        elif node is not None:
            s = line.strip()
            if s.startswith(b"present "):
                out[node] += int(s[8:])
    return out


@dataclass(frozen=True, slots=True)
class PidCgroups:
    """A process's memory cgroup as ``/proc/PID/cgroup`` shows it.

    ``v1_memory`` is the path in the cgroup-v1 hierarchy that has the ``memory`` controller (None
    when no v1 hierarchy has it); ``v2`` is the path of the ``0::`` line (None without cgroup2).
    Which one is the memcg depends on where the memory controller is mounted: v1 when
    ``v1_memory`` is set, else v2.
    """

    v1_memory: str | None
    v2: str | None

    @property
    def memcg(self) -> str | None:
        return self.v1_memory if self.v1_memory is not None else self.v2


def parse_cgroup(data: bytes, path: str = "cgroup") -> PidCgroups:
    """Parse ``/proc/PID/cgroup`` lines ``hierarchy-ID:controller-list:cgroup-path``."""
    v1 = v2 = None
    for line in data.decode("utf-8", "backslashreplace").split("\n"):
        if not line:
            continue
        parts = line.split(":", 2)  # a cgroup name may itself contain ':'
        if len(parts) != 3:
            raise ProcParseError(path, line)
        hier, controllers, cg = parts
        if hier == "0" and controllers == "":
            v2 = cg
        elif "memory" in controllers.split(","):
            v1 = cg
    return PidCgroups(v1, v2)


# --- the reader ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjWrite:
    """A write of ``oom_score_adj`` that the kernel took: the value before and as read back after."""

    pid: int
    comm: str | None
    before: int
    after: int

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _check_range(value: int, lo: int, hi: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise AdjustError(f"{name} must be an integer in {lo}..{hi}, got {value!r}",
                          hint=f"give a value from {lo} to {hi}")


def _legacy_of(score_adj: int) -> int:
    from oomlens.kernel.oom_kill import oom_score_adj_to_oom_adj

    return oom_score_adj_to_oom_adj(score_adj)


_Caps = tuple[bool | Unknown, bool | Unknown, bool | Unknown]
_CAPS: dict[bytes | None, _Caps] = {None: (UNKNOWN, UNKNOWN, UNKNOWN)}


def _cap_flags(capeff: bytes | None) -> _Caps:
    """(CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_SYS_RAWIO) in a status ``CapEff`` hex value (None: not shown,
    UNKNOWN). A host has few distinct values, so they are parsed once. Raises ValueError if not hex."""
    got = _CAPS.get(capeff)
    if got is None:
        cap = int(capeff, 16)  # type: ignore[arg-type]
        got = _CAPS[capeff] = (bool(cap >> CAP_SYS_ADMIN & 1), bool(cap >> CAP_SYS_RESOURCE & 1),
                               bool(cap >> CAP_SYS_RAWIO & 1))
    return got


def _read_bytes(path: str) -> bytes:
    """Whole file as bytes with raw ``os.open``/``os.read`` (no buffered file object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _READ_CHUNK)
        if len(data) == _READ_CHUNK:  # seq_file: a short read means EOF
            chunks = [data]
            while chunk := os.read(fd, _READ_CHUNK):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data
    finally:
        os.close(fd)


@dataclass(slots=True)
class ScanStats:
    """What a scan (:meth:`ProcFS.iter_tasks`) skipped, so a UI can say "N processes unreadable"."""

    listed: int = 0
    read: int = 0
    vanished: int = 0
    """Processes that exited between the directory listing and the read (skipped silently)."""
    unreadable: int = 0
    """Processes present but unreadable: AccessDenied, or a file that would not parse."""
    unreadable_pids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: ScanStats) -> None:
        """Count in what a scan of other pids (a forked helper's half) read and skipped (not ``listed``)."""
        self.read += other.read
        self.vanished += other.vanished
        self.unreadable += other.unreadable
        self.unreadable_pids.extend(other.unreadable_pids)
        self.errors.extend(other.errors)


_ESRCH_LIKE = (errno.ENOENT, errno.ESRCH)

_task_fields = attrgetter(*(f.name for f in fields(Task)))
"""A Task's field values, in declaration order (``Task(*values)`` rebuilds it)."""


class ProcFS:
    """Reader of a procfs tree (default ``/proc``); the only code in oomlens that reads ``/proc``.

    ``root`` may be a recorded fixture; a ``meta.json`` there may give ``page_size`` and
    ``clk_tck`` (else the running system's ``sysconf`` values) and ``kernel_release``. ``parallel=False``:
    scans never fork a second reader (see :meth:`iter_tasks`).
    """

    def __init__(self, root: str = "/proc", *, parallel: bool = True) -> None:
        self.root = os.path.abspath(root)
        if not parallel:  # one reader always (a daemon spends less CPU that way; latency is not its concern)
            self.parallel_min = sys.maxsize
        meta: dict[str, object] = {}
        meta_path = os.path.join(self.root, "meta.json")
        if os.path.isfile(meta_path):
            import json

            try:
                with open(meta_path, "rb") as f:
                    meta = json.load(f)
            except ValueError as exc:
                raise ProcParseError(meta_path, None, f"cannot parse {meta_path}: {exc}") from None
            if not isinstance(meta, dict):
                raise ProcParseError(meta_path, None, f"cannot parse {meta_path}: not a JSON object")
        self.meta = meta
        self.page_size = int(meta.get("page_size") or os.sysconf("SC_PAGE_SIZE"))  # type: ignore[call-overload]
        self.clk_tck = int(meta.get("clk_tck") or os.sysconf("SC_CLK_TCK"))  # type: ignore[call-overload]
        self._kb_per_page = self.page_size // 1024
        self._init_ns_is_initial: bool | None = None
        self._pidfs: bool | None = None
        self.last_scan = ScanStats()
        """Counters of the most recent (or running) :meth:`iter_tasks` scan."""

    def __repr__(self) -> str:
        return f"ProcFS({self.root!r})"

    # --- error translation: the one place -----------------------------------------------------

    def _translate(self, pid: int, path: str, exc: OSError) -> Exception:
        """Map an ``OSError`` from reading/writing ``path`` of ``pid`` to an oomlens error."""
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
            return AccessDenied(pid, None, f"access denied: {path}")
        if isinstance(exc, (FileNotFoundError, ProcessLookupError)) or exc.errno in _ESRCH_LIKE:
            if not os.path.exists(f"{self.root}/{pid}"):
                return NoSuchProcess(pid)
            return ProcParseError(path, None, f"cannot read {path}: {exc.strerror} (pid {pid} still exists)")
        return ProcessError(pid, None, f"cannot access {path}: {exc.strerror or exc}")

    def _read(self, pid: int, name: str) -> bytes:
        path = f"{self.root}/{pid}/{name}"
        try:
            return _read_bytes(path)
        except OSError as exc:
            raise self._translate(pid, path, exc) from None

    def _read_sys(self, name: str) -> bytes:
        """A system-wide file (``meminfo``, ``sys/vm/...``): missing means this is not a procfs."""
        path = f"{self.root}/{name}"
        try:
            return _read_bytes(path)
        except OSError as exc:
            raise ProcParseError(path, None, f"cannot read {path}: {exc.strerror or exc}") from None

    def _read_int(self, path: str, data: bytes) -> int:
        try:
            return int(data)
        except ValueError:
            raise ProcParseError(path, _decode(data[:40])) from None

    # --- processes --------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Process ids (thread-group leaders) listed in the root, ascending."""
        try:
            names = os.listdir(self.root)
        except OSError as exc:
            raise ProcParseError(self.root, None, f"cannot list {self.root}: {exc.strerror}") from None
        return sorted(int(n) for n in names if n.isascii() and n.isdigit())

    def pid_exists(self, pid: int) -> bool:
        return os.path.exists(f"{self.root}/{pid}")

    def read_oom_score(self, pid: int) -> int:
        """``/proc/PID/oom_score`` as the kernel computes it (global ``T``, §5.1 of the spec)."""
        return self._read_int(f"{self.root}/{pid}/oom_score", self._read(pid, "oom_score"))

    def read_oom_score_adj(self, pid: int) -> int:
        return self._read_int(f"{self.root}/{pid}/oom_score_adj", self._read(pid, "oom_score_adj"))

    def read_oom_adj(self, pid: int) -> int:
        """Legacy ``/proc/PID/oom_adj`` (the kernel derives it from ``oom_score_adj`` since 3.7)."""
        return self._read_int(f"{self.root}/{pid}/oom_adj", self._read(pid, "oom_adj"))

    def write_oom_score_adj(self, ident: ProcessIdentity, value: int) -> AdjWrite:
        """Set ``/proc/PID/oom_score_adj`` of the identified process, and of no other.

        The file is opened first, then the identity is re-checked (:meth:`ProcessIdentity.verify`): an open
        ``/proc/PID`` file stays bound to the process it was opened for, so a process that took the pid
        after the check cannot be written. The value is read back afterwards; a value the kernel did not keep
        is an :class:`AdjustError`. Lowering below the process's ``oom_score_adj_min`` without
        CAP_SYS_RESOURCE (the kernel's ``EACCES`` on write) is :class:`AdjustDenied`.

        Raises ProcessReplaced / NoSuchProcess (nothing written), AccessDenied (cannot open the file),
        AdjustDenied, AdjustError.
        """
        _check_range(value, OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX, "oom_score_adj")
        return self._write_adj(ident, "oom_score_adj", value, value)

    def write_oom_adj(self, ident: ProcessIdentity, value: int) -> AdjWrite:
        """Legacy ``/proc/PID/oom_adj`` (-17..15), with :meth:`write_oom_score_adj`'s checks. The kernel
        stores ``oom_adj_to_oom_score_adj(value)``; that is what is read back. Through this file, lowering
        below the *current* value at all needs CAP_SYS_RESOURCE."""
        from oomlens.kernel.oom_kill import oom_adj_to_oom_score_adj

        _check_range(value, OOM_DISABLE, OOM_ADJUST_MAX, "oom_adj")
        return self._write_adj(ident, "oom_adj", value, oom_adj_to_oom_score_adj(value))

    def _write_adj(self, ident: ProcessIdentity, name: str, value: int, expect: int) -> AdjWrite:
        pid = ident.pid
        path = f"{self.root}/{pid}/{name}"
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as exc:
            raise self._translate(pid, path, exc) from None
        try:
            ident.verify(self)  # after the open: the fd cannot reach a process that took the pid later
            before = self.read_oom_score_adj(pid)
            try:
                os.write(fd, b"%d\n" % value)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    lowering = "below its current value" if name == "oom_adj" else "below its oom_score_adj_min"
                    raise AdjustDenied(
                        f"the kernel refused to lower {name} of pid {pid} ({ident.comm}) from "
                        f"{before if name == 'oom_score_adj' else _legacy_of(before)} to {value}: "
                        f"lowering {lowering} needs CAP_SYS_RESOURCE", pid=pid) from None
                if exc.errno == errno.ESRCH:
                    raise NoSuchProcess(pid, ident.comm) from None
                raise AdjustError(f"cannot write {path}: {exc.strerror}", pid=pid) from None
        finally:
            os.close(fd)
        ident.verify(self)
        after = self.read_oom_score_adj(pid)
        if after != expect:
            raise AdjustError(f"pid {pid} ({ident.comm}): wrote {name}={value} but oom_score_adj reads {after} "
                              f"(expected {expect}); the value was not kept", pid=pid,
                              hint="something else manages this process's oom_score_adj (a runtime, a daemon)?")
        return AdjWrite(pid, ident.comm, before, after)

    def read_cgroup_of(self, pid: int) -> PidCgroups:
        """``/proc/PID/cgroup``: the v1 memory hierarchy line and the v2 ``0::`` line."""
        return parse_cgroup(self._read(pid, "cgroup"), f"{self.root}/{pid}/cgroup")

    def read_stat(self, pid: int) -> dict[str, int | str]:
        return parse_stat(self._read(pid, "stat"), f"{self.root}/{pid}/stat")

    def read_status(self, pid: int) -> dict[str, str]:
        return parse_status(self._read(pid, "status"), None, f"{self.root}/{pid}/status")

    def _pid1_in_initial_ns(self) -> bool | None:
        """Is ``<root>/1`` in the initial pid namespace? None when ``ns/pid`` cannot be read."""
        if self._init_ns_is_initial is None:
            try:
                link = os.readlink(f"{self.root}/1/ns/pid")
            except OSError:
                return None
            self._init_ns_is_initial = link == f"pid:[{PROC_PID_INIT_INO}]"
        return self._init_ns_is_initial

    def read_task(self, pid: int, *, legacy: bool = False, with_stat: bool | None = None) -> Task:
        """One process as a :class:`Task` (memory in pages).

        Reads ``status`` and ``oom_score_adj``; ``stat`` too when ``with_stat`` is True, or when it
        is None and either ``legacy`` is set (CPU times and nice feed the ≤2.6.35 ``badness()``)
        or ``status`` has no ``Kthread:`` line. ``children`` is left empty (the snapshot derives it
        from ``ppid``). Zombies and kernel threads come back with ``has_mm=False``.

        Raises NoSuchProcess (gone), AccessDenied, ProcParseError (unparsable or incomplete).
        """
        status = self._read(pid, "status")
        adj = self._read(pid, "oom_score_adj")
        return self._build_task(pid, status, adj, legacy, with_stat)

    def _build_task(self, pid: int, data: bytes, adj_raw: bytes, legacy: bool, with_stat: bool | None) -> Task:
        """The Task for ``status`` bytes ``data`` and ``oom_score_adj`` bytes ``adj_raw``.

        Fast path: status in its kernel form with a ``Kthread:`` line, not pid 1 and not a zombie leader
        whose threads live on. Everything else, malformed input included, goes through
        :meth:`_parse_task`, the general path; both give the same Task for the same bytes.
        """
        m = None if pid == 1 else _fast_status_match(data)
        if m is None:
            return self._parse_task(pid, data, adj_raw, legacy, with_stat)
        name, state, tgid, ppid, uid, kt, vmsize, anon, file_, shmem, pte, swap, threads, capeff = m.groups()
        num_threads = int(threads)
        if kt is None:  # no Kthread: line: PF_KTHREAD is in stat only
            return self._parse_task(pid, data, adj_raw, legacy, with_stat)
        if vmsize is not None:
            kb = self._kb_per_page
            mem = (int(anon) // kb, int(file_) // kb, int(shmem) // kb, int(swap) // kb, int(pte) * 1024,
                   int(vmsize) // kb)
        elif (kt == b"0" and num_threads > 1) or b"\nVmSize:" in data:  # zombie leader, or Vm* lines malformed
            return self._parse_task(pid, data, adj_raw, legacy, with_stat)
        else:
            mem = _NO_MEM
        try:
            adj = int(adj_raw)
        except ValueError:
            return self._parse_task(pid, data, adj_raw, legacy, with_stat)
        stat = self._stat_fields(pid)[1] if with_stat or (with_stat is None and legacy) else None
        return self._new_task(pid, _unescape_name(name), state, (int(uid), int(tgid), int(ppid)), adj, mem, True,
                              vmsize is not None, kt == b"1", False, _cap_flags(capeff), num_threads, stat)

    def _stat_fields(self, pid: int) -> tuple[int, dict[str, object]]:
        """From ``/proc/PID/stat``: the PF_* flags, and the Task fields only stat has (PF_EXITING,
        CPU times, nice, start time)."""
        spath = f"{self.root}/{pid}/stat"
        _, _, fields = _stat_split(self._read(pid, "stat"), spath)
        if len(fields) < 20:
            raise ProcParseError(spath, None, f"cannot parse {spath}: too few fields")
        try:
            flags = int(fields[6])
        except ValueError:
            raise ProcParseError(spath, _decode(fields[6])) from None
        try:
            return flags, {
                "exiting": bool(flags & PF_EXITING),
                "utime_ticks": int(fields[11]),
                "stime_ticks": int(fields[12]),
                "nice": int(fields[16]),
                "start_time_s": int(fields[19]) / self.clk_tck,
            }
        except ValueError as exc:
            raise ProcParseError(spath, None, str(exc)) from None

    def _new_task(self, pid: int, name: str, state: bytes, ids: tuple[int, int, int], adj: int,
                  mem: tuple[int, int, int, int, int, int], split_known: bool, has_mm: bool, is_kthread: bool,
                  is_global_init: bool, caps: _Caps, num_threads: int, stat: dict[str, object] | None) -> Task:
        """A Task from parsed values: ``ids`` = (uid, tgid, ppid); ``mem`` = pages of (anon, file, shmem,
        swap), page-table bytes, total_vm pages; ``caps`` = :func:`_cap_flags`; ``stat`` = the fields read
        from stat."""
        return Task(
            pid=pid,
            name=name,
            uid=ids[0],
            tgid=ids[1],
            ppid=ids[2],
            oom_score_adj=adj,
            rss_anon=mem[0],
            rss_file=mem[1],
            rss_shmem=mem[2],
            swapents=mem[3],
            pgtables_bytes=mem[4],
            total_vm=mem[5],
            rss_split_known=split_known,
            has_mm=has_mm,
            is_kthread=is_kthread,
            is_global_init=is_global_init,
            cap_sys_admin=caps[0],
            cap_sys_resource=caps[1],
            cap_sys_rawio=caps[2],
            num_threads=num_threads,
            state=_decode(state),
            **(stat or {}),  # type: ignore[arg-type]
        )

    def _parse_task(self, pid: int, data: bytes, adj_raw: bytes, legacy: bool, with_stat: bool | None) -> Task:
        """The general path of :meth:`_build_task`: any status layout, stat when needed, every error."""
        path = f"{self.root}/{pid}/status"
        if not data.startswith(b"Name:"):
            raise ProcParseError(path, _decode(data[:40]), f"cannot parse {path}: does not start with 'Name:'")
        nl = data.find(b"\n")
        name = _unescape_name(data[6:nl])
        f = dict(_task_status_findall(data)).get
        try:
            state, ppid, uid, threads = f(b"State"), f(b"PPid"), f(b"Uid"), f(b"Threads")
            if state is None or ppid is None or uid is None or threads is None:
                missing = [k for k, v in (("State", state), ("PPid", ppid), ("Uid", uid), ("Threads", threads)) if v is None]
                raise ProcParseError(path, None, f"cannot parse {path}: no {', '.join(missing)} line")
            num_threads = int(threads)
            kthread = f(b"Kthread")
            kt = None if kthread is None else kthread.strip() == b"1"
            vmsize = f(b"VmSize")
            has_mm = vmsize is not None
            if not has_mm and kt is not True and num_threads > 1:
                # A zombie group leader whose other threads still run: the kernel's
                # find_lock_task_mm() finds the mm through another thread.
                other = self._thread_with_mm(pid)
                if other is not None:
                    return self._build_task_with_mm(pid, name, state, other, adj_raw, legacy, with_stat)
            split_known = True
            if has_mm:
                kb = self._kb_per_page
                rss_anon, rss_file, rss_shmem = f(b"RssAnon"), f(b"RssFile"), f(b"RssShmem")
                if rss_anon is None:  # before 4.5: VmRSS only
                    rss_anon, rss_file, rss_shmem, split_known = f(b"VmRSS"), b"0 kB", b"0 kB", False
                vmpte, vmswap = f(b"VmPTE"), f(b"VmSwap")
                if rss_anon is None or vmpte is None or vmswap is None or rss_file is None or rss_shmem is None:
                    raise ProcParseError(path, None, f"cannot parse {path}: VmSize without Rss*/VmPTE/VmSwap lines")
                mem = (int(rss_anon[:-3]) // kb, int(rss_file[:-3]) // kb, int(rss_shmem[:-3]) // kb,
                       int(vmswap[:-3]) // kb, int(vmpte[:-3]) * 1024, int(vmsize[:-3]) // kb)  # type: ignore[index]
            else:
                mem = _NO_MEM
            tgid, nspid, capeff = f(b"Tgid"), f(b"NSpid"), f(b"CapEff")
            caps = _cap_flags(capeff)
            ids = (int(uid.split()[0]), int(tgid) if tgid is not None else pid, int(ppid))
        except (ValueError, IndexError) as exc:
            raise ProcParseError(path, None, f"cannot parse {path}: {exc}") from None
        try:
            adj = int(adj_raw)
        except ValueError:
            apath = f"{self.root}/{pid}/oom_score_adj"
            raise ProcParseError(apath, _decode(adj_raw[:40])) from None

        kwargs = None
        if with_stat or (with_stat is None and (legacy or kt is None)):
            flags, kwargs = self._stat_fields(pid)
            if kt is None:
                kt = bool(flags & PF_KTHREAD)
        is_kthread = bool(kt)

        is_global_init = False
        if pid == 1:
            in_init_ns = self._pid1_in_initial_ns()
            single = nspid is None or len(nspid.split()) == 1
            is_global_init = single and in_init_ns is not False

        return self._new_task(pid, name, state.strip()[:1], ids, adj, mem, split_known, has_mm, is_kthread,
                              is_global_init, caps, num_threads, kwargs)

    def _thread_with_mm(self, pid: int) -> bytes | None:
        """``status`` of the first other thread of ``pid`` that still has an mm, if any."""
        try:
            tids = sorted(int(t) for t in os.listdir(f"{self.root}/{pid}/task") if t.isascii() and t.isdigit())
        except OSError as exc:
            raise self._translate(pid, f"{self.root}/{pid}/task", exc) from None
        for tid in tids:
            if tid == pid:
                continue
            try:
                data = self._read(pid, f"task/{tid}/status")
            except (NoSuchProcess, ProcParseError):
                continue  # that thread exited meanwhile
            if b"\nVmSize:" in data:
                return data
        return None

    def _build_task_with_mm(self, pid: int, name: str, leader_state: bytes, thread: bytes, adj_raw: bytes,
                            legacy: bool, with_stat: bool | None) -> Task:
        """Task of a zombie leader, with memory counters taken from a live thread's status."""
        t = self._build_task(pid, thread, adj_raw, legacy, with_stat)
        return t.with_(name=name, state=_decode(leader_state.strip()[:1]))

    def iter_tasks(self, legacy: bool = False, *, with_stat: bool | None = None,
                   stats: ScanStats | None = None, pids: list[int] | None = None,
                   pidfs_ids: dict[int, int] | None = None) -> Iterator[Task]:
        """Every process under the root (or those of ``pids``), in pid order.

        Races are decided here: a process that vanishes between the listing and the read is
        skipped silently (``stats.vanished``); one that cannot be read (AccessDenied, a file that
        does not parse) is skipped and counted (``stats.unreadable``). Zombies and kernel threads
        are yielded with ``has_mm=False``. The counters are also kept in :attr:`last_scan`.
        With ``pidfs_ids`` (see :meth:`has_pidfs_ids`), each yielded process's :meth:`pidfs_id` is
        stored there; a process whose pidfd cannot be opened counts like one whose files cannot be read.

        With at least :attr:`parallel_min` processes, two CPUs and no other thread in this process, the
        upper half of the pids is read by a forked child (:meth:`_fork_scan`) while this process reads
        the lower half: the same reads, the same Tasks, in the same order, in about 60% of the time. A
        child that cannot be forked or that fails leaves its half to be read here.
        """
        if stats is None:
            stats = ScanStats()
        self.last_scan = stats
        pids = self.pids() if pids is None else sorted(pids)
        stats.listed += len(pids)
        half = len(pids) // 2 if len(pids) >= self.parallel_min and can_fork_a_helper() else 0
        child = self._fork_scan(pids[half:], legacy, with_stat, pidfs_ids is not None) if half else None
        if child is None:
            yield from self._scan(pids, legacy, with_stat, stats, pidfs_ids)
            return
        try:
            yield from self._scan(pids[:half], legacy, with_stat, stats, pidfs_ids)
            result = child.collect()
        finally:
            child.abandon()  # a no-op once collected
        if result is None:  # the child failed: read its half here
            yield from self._scan(pids[half:], legacy, with_stat, stats, pidfs_ids)
            return
        records, ids, theirs = result
        stats.add(theirs)
        if pidfs_ids is not None:
            pidfs_ids.update(ids)
        for rec in records:
            yield Task(*rec)  # the field values of a Task, in order

    parallel_min = 1024
    """Fewest processes for which :meth:`iter_tasks` forks a second reader (below it the fork, ~1 ms, and
    the transfer cost about what they save)."""

    def _scan(self, pids: list[int], legacy: bool, with_stat: bool | None, stats: ScanStats,
              pidfs_ids: dict[int, int] | None) -> Iterator[Task]:
        """The scan loop of :meth:`iter_tasks` over ``pids`` (in order), counting into ``stats``."""
        read = self._read
        build = self._build_task
        for pid in pids:
            try:
                task = build(pid, read(pid, "status"), read(pid, "oom_score_adj"), legacy, with_stat)
                if pidfs_ids is not None:
                    pidfs_ids[pid] = self.pidfs_id(pid)
            except NoSuchProcess:
                stats.vanished += 1
                continue
            except (AccessDenied, ProcParseError, ProcessError) as exc:
                if isinstance(exc, ProcParseError) and not self.pid_exists(pid):
                    stats.vanished += 1
                    continue
                stats.unreadable += 1
                stats.unreadable_pids.append(pid)
                stats.errors.append(str(exc))
                continue
            stats.read += 1
            yield task

    def _fork_scan(self, pids: list[int], legacy: bool, with_stat: bool | None,
                   want_pidfs: bool) -> Helper | None:
        """Fork a helper (:func:`oomlens.sources.forkhelper.fork_helper`) that scans ``pids``: it runs
        :meth:`_scan` (so its Tasks are exactly those this process would build) and returns the field tuples of
        the Tasks, the pidfs ids and its ScanStats counters. None when no helper could be started."""

        def work() -> tuple[list[tuple[object, ...]], dict[int, int], ScanStats]:
            stats = ScanStats()
            ids: dict[int, int] | None = {} if want_pidfs else None
            records = [_task_fields(t) for t in self._scan(pids, legacy, with_stat, stats, ids)]
            return records, ids or {}, stats

        return fork_helper(work)

    # --- creation order ---------------------------------------------------------------------

    def pidfs_id(self, pid: int) -> int:
        """The pidfs inode number of process ``pid``: ``fstat()`` of a pidfd (``pidfd_open``).

        Since Linux 6.9 a pidfd is a pidfs inode whose number the kernel takes from one 64-bit counter
        in ``alloc_pid()``, under ``pidmap_lock``, when ``fork`` allocates the process's pid; these
        numbers never wrap and are never reused, so they ascend in creation order, which is the
        order of ``init_task.tasks``. (Like stat's start time, the number is taken in
        ``copy_process()`` before the task joins that list: forks racing on two CPUs may join it
        in the other order, which no /proc file shows.) Only meaningful where :meth:`has_pidfs_ids`.

        Raises NoSuchProcess (gone) or ProcessError.
        """
        try:
            fd = os.pidfd_open(pid)
        except OSError as exc:
            raise self._translate(pid, f"pidfd of {pid}", exc) from None
        try:
            return os.fstat(fd).st_ino
        finally:
            os.close(fd)

    def has_pidfs_ids(self) -> bool:
        """Do :meth:`pidfs_id` numbers give creation order for the processes under this root?

        Needs the live ``/proc`` of this process's pid namespace (pidfd_open takes pids of that
        namespace), a 64-bit system (32-bit kernels show only the low 32 bits of the number) and
        pidfs: before 6.9 every pidfd shares one anonymous inode, so an older process (our parent,
        else the namespace's init) must have a smaller number than ours.
        """
        if self._pidfs is None:
            self._pidfs = False
            me = os.getpid()
            older = os.getppid() or (1 if me != 1 else 0)  # 0: the parent is outside our namespace
            if hasattr(os, "pidfd_open") and sys.maxsize > 2**32 and older:
                try:
                    if os.readlink(f"{self.root}/self") == str(me):
                        self._pidfs = self.pidfs_id(older) < self.pidfs_id(me)
                except (OSError, ProcessError, ProcParseError):
                    pass
        return self._pidfs

    # --- system -----------------------------------------------------------------------------

    def read_meminfo(self) -> MemInfo:
        """``totalram_pages`` (= MemTotal, see spec §7) and ``total_swap_pages`` (= SwapTotal) in
        pages; per-node present pages from ``/proc/zoneinfo`` when it is there."""
        path = f"{self.root}/meminfo"
        info = parse_meminfo(self._read_sys("meminfo"), path)
        kb = self._kb_per_page
        try:
            total, swap = info["MemTotal"], info["SwapTotal"]
        except KeyError as exc:
            raise ProcParseError(path, None, f"cannot parse {path}: no {exc.args[0]} line") from None
        nodes: tuple[int, ...] = ()
        try:
            zones = parse_zoneinfo(_read_bytes(f"{self.root}/zoneinfo"))
        except (OSError, ValueError):
            zones = {}
        if zones:
            nodes = tuple(zones.get(n, 0) for n in range(max(zones) + 1))
        return MemInfo(totalram_pages=total // kb, total_swap_pages=swap // kb,
                       page_size=self.page_size, node_present_pages=nodes)

    def _sysctl_int(self, name: str) -> int:
        return self._read_int(f"{self.root}/sys/{name}", self._read_sys(f"sys/{name}"))

    def read_sysctls(self) -> VmSysctls:
        return VmSysctls(
            panic_on_oom=self._sysctl_int("vm/panic_on_oom"),
            oom_kill_allocating_task=self._sysctl_int("vm/oom_kill_allocating_task"),
            oom_dump_tasks=self._sysctl_int("vm/oom_dump_tasks"),
            swappiness=self._sysctl_int("vm/swappiness"),
        )

    def read_uptime(self) -> float:
        """Seconds since boot (``/proc/uptime``), the clock of ``start_time_s``."""
        path = f"{self.root}/uptime"
        try:
            return float(self._read_sys("uptime").split()[0])
        except (IndexError, ValueError):
            raise ProcParseError(path) from None

    def pid_order_is_creation_order(self, pids: list[int] | None = None) -> bool:
        """True when pid order must equal creation order because pids never wrapped.

        ``alloc_pid()`` hands out pids cyclically from 1 up to ``pid_max``; until the first wrap a
        younger process always has a larger pid. ``processes`` in ``/proc/stat`` counts every fork
        since boot (threads too, system-wide, so it bounds the allocations of any pid namespace);
        fewer than ``pid_max - 1`` forks means no wrap. (Forks that fail after ``alloc_pid()``,
        e.g. on a pids.max limit, advance the cursor uncounted: a fork bomb can defeat this.)
        Also requires every live pid (``pids``, listed now if not given) to be <= ``ns_last_pid``.
        False when anything is unreadable.
        """
        pids = self.pids() if pids is None else pids  # before ns_last_pid: a process born meanwhile must not look out of order
        try:
            forks = None
            for line in self._read_sys("stat").split(b"\n"):
                if line.startswith(b"processes "):
                    forks = int(line[10:])
                    break
            pid_max = int(self._read_sys("sys/kernel/pid_max"))
            last = int(self._read_sys("sys/kernel/ns_last_pid"))
        except (ProcParseError, ValueError):
            return False
        if forks is None or forks >= pid_max - 1:
            return False
        return not pids or pids[-1] <= last

    def _sys_text(self, name: str, meta_key: str) -> str:
        try:
            return self._read_sys(name).decode("utf-8", "backslashreplace").strip()
        except ProcParseError:
            value = self.meta.get(meta_key)
            if isinstance(value, str):
                return value
            raise

    def kernel_release(self) -> str:
        """``/proc/sys/kernel/osrelease`` (or ``kernel_release`` from a fixture's meta.json)."""
        return self._sys_text("sys/kernel/osrelease", "kernel_release")

    def hostname(self) -> str:
        return self._sys_text("sys/kernel/hostname", "hostname")

