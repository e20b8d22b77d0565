"""Kernel-oracle self test: provoke real memcg OOM kills and compare the kernel's victim with a prediction.

The running kernel is the oracle. For each scenario we

1. create a throwaway memory cgroup (:class:`MemcgSandbox`), possibly with child cgroups;
2. start *holders* (:class:`Holder`): small ``python -I -S -c`` processes that join a cgroup, then
   hold an exact amount of anonymous, shmem (memfd), file-backed (mlocked mapping of a sparse file
   on a disk filesystem) memory and/or page tables (zero-page reads over a big sparse mapping), with
   optional extra threads and a raised ``oom_score_adj``. Each holder reports ``ready`` after
   touching every page;
3. *arm* the sandbox: start the allocating task (the *trigger*, idle until told to go) and set the
   limit to the current usage plus a small headroom;
4. ask the predictor for a victim pid (``predict(cgroup_fs_path)``) while nothing moves;
5. *fire*: the trigger allocates in 64 KiB steps until the memcg's ``oom_kill`` counter moves; the
   kernel OOM-kills one task of the sandbox and logs a report, found in ``/dev/kmsg`` after a unique
   marker record written just before firing (never by line count).

Every holder also holds memory charged *inside* the memcg (at least :data:`MIN_CHARGED_MIB`), so that
whichever task dies frees more than the trigger still wants and exactly one task is killed.

Safety: allocations happen only inside a memcg whose limit is set before the trigger allocates, so a
global OOM cannot result. Sandboxes kill their own processes and remove their cgroups on exit, also
on exceptions and KeyboardInterrupt (SIGINT is deferred during cleanup); holders exit by themselves
when the harness dies (their stdin reaches EOF); empty cgroups left by a dead harness are swept.

Standard library only. Public API: :class:`MemcgSandbox`, :class:`Holder`, :class:`HolderProcess`,
:func:`provoke`, :class:`ProvokeResult`, :class:`KmsgCursor`, :class:`KmsgRecord`,
:func:`find_oom_report`, :func:`parse_kernel_report`, :class:`KernelReport`, :class:`Scenario`,
:class:`ScenarioResult`, :func:`run_scenario`, :func:`run_selftest`, :func:`check_environment`,
:data:`BUILTIN_SCENARIOS`.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from oomlens.errors import InputError, SelftestError
from oomlens.sources.cgroupfs import kernel_cgroup_path, mount_of, mounts, v2_has_memory
from oomlens.sources.kernellog import KmsgCursor, KmsgRecord

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
SANDBOX_PREFIX = "oomlens-selftest-"

#: Smallest amount of memory (MiB) a holder must charge inside its memcg (see the module docstring).
MIN_CHARGED_MIB = 0.5
#: The trigger allocates this much between two looks at the ``oom_kill`` counter.
TRIGGER_CHUNK_BYTES = 64 * 1024
#: Beyond the headroom, the trigger gives up ("no-oom") after this much.
TRIGGER_OVERSHOOT_BYTES = 48 * MiB
#: The kernel ratelimits OOM report headers (a burst per 5 s); provoked OOMs are spaced this far apart.
MIN_OOM_INTERVAL = 1.2
#: Up to 6.1, each thread caches its RSS counter updates and folds them into the mm every 64 events
#: (SPLIT_RSS_COUNTING), so /proc (and the OOM killer) can lag a holder's real size by that much.
RSS_LAG_PAGES = 64 * 2
#: How long a holder may take to start and touch its memory (slow under emulation: qemu TCG, 9p root).
SPAWN_TIMEOUT_S = 120.0
#: Default limit headroom above the usage measured when arming.
DEFAULT_HEADROOM_MIB = 1.0
#: Comm (task name) of the default allocating task.
ALLOCATOR_NAME = "allocator"

_COUNTER = itertools.count(1)
_OOM_CLOCK_LOCK = threading.Lock()
_last_oom = 0.0

_HINT_ROOT = "run as root (e.g. `sudo oomlens selftest`)"
_HINT_HIERARCHY = ("needs a writable cgroup-v1 memory hierarchy (e.g. /sys/fs/cgroup/memory) or cgroup v2 with "
                   "the memory controller enabled in the root's cgroup.subtree_control")


# --------------------------------------------------------------------------------------------------
# small filesystem helpers

def read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _try_write(path: str, text: str) -> bool:
    try:
        write_text(path, text)
    except OSError:
        return False
    return True


def _keyed_int(path: str, key: str) -> int:
    """Value of ``key`` in a ``key value`` per line file (memory.oom_control, memory.events)."""
    for line in read_text(path).splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_descendant(pid: int) -> bool:
    """True when ``pid`` is this process's child, grandchild, ... (read from /proc/PID/stat)."""
    me = os.getpid()
    for _ in range(64):
        try:
            stat = read_text(f"/proc/{pid}/stat")
        except OSError:
            return False
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == me:
            return True
        if ppid <= 1:
            return False
        pid = ppid
    return False



# --------------------------------------------------------------------------------------------------
# which memory hierarchy

@dataclass(frozen=True)
class _Hierarchy:
    base: str          # filesystem directory under which sandboxes are created
    version: int       # 1 or 2
    kernel_base: str   # the same directory as the kernel prints cgroup paths ("/" for a hierarchy root)

    def describe(self) -> str:
        return f"cgroup v{self.version} at {self.base}"


def _resolve_hierarchy(base: str | None) -> _Hierarchy:
    if base is None:
        found = mounts()
        for m in found:
            if m.fstype == "cgroup" and "memory" in m.superopts:
                base = m.mountpoint
                break
        else:
            for m in found:
                if m.fstype == "cgroup2" and v2_has_memory(m.mountpoint):
                    base = m.mountpoint
                    break
            else:
                raise SelftestError("no cgroup hierarchy with the memory controller is mounted", hint=_HINT_HIERARCHY)
    if not os.path.isdir(base):
        raise SelftestError(f"{base}: not a directory", hint=_HINT_HIERARCHY)
    if os.path.exists(os.path.join(base, "memory.limit_in_bytes")) or os.path.exists(
            os.path.join(base, "memory.usage_in_bytes")):
        return _Hierarchy(base, 1, kernel_cgroup_path(base))
    if v2_has_memory(base):
        if "memory" not in read_text(os.path.join(base, "cgroup.subtree_control")).split() and not _try_write(
                os.path.join(base, "cgroup.subtree_control"), "+memory"):
            raise SelftestError(f"{base}: cannot enable the memory controller for child cgroups",
                                hint=_HINT_HIERARCHY)
        return _Hierarchy(base, 2, kernel_cgroup_path(base))
    raise SelftestError(f"{base} is not a memory cgroup directory (no memory.* control files)",
                        hint=_HINT_HIERARCHY)


def describe_hierarchy(base: str | None = None) -> str:
    """Which memory hierarchy sandboxes go to, e.g. ``cgroup v2 at /sys/fs/cgroup`` (SelftestError if none)."""
    return _resolve_hierarchy(base).describe()


def _disk_file_dir() -> str:
    """A directory whose files are page-cache backed (RssFile), not shmem (tmpfs files count as RssShmem)."""
    candidates = [os.environ.get("OOMLENS_SELFTEST_FILE_DIR"), tempfile.gettempdir(), "/var/tmp", os.getcwd()]
    for d in candidates:
        if not d or not os.path.isdir(d) or not os.access(d, os.W_OK):
            continue
        m = mount_of(d)
        if m is not None and m.fstype not in {"tmpfs", "ramfs", "devtmpfs", "hugetlbfs", "proc", "sysfs"}:
            return d
    raise SelftestError("no writable directory on a disk filesystem for file-backed holders",
                        hint="set OOMLENS_SELFTEST_FILE_DIR to a directory on ext4/xfs/btrfs")


# --------------------------------------------------------------------------------------------------
# locating and reading one OOM report

_TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
_KILL = re.compile(r"(?:^|: )Killed process (\d+) \((.*?)\)")


@dataclass
class KernelReport:
    """One memcg OOM report as the kernel logged it (the part the self test needs)."""

    text: str                       # dmesg-style lines, from "invoked oom-killer" to "Killed process"
    victim_pid: int
    victim_name: str
    complete: bool                  # False when the header and table were ratelimited away
    constraint: str | None = None
    oom_memcg: str | None = None
    task_memcg: str | None = None
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)   # the "Tasks state" table by pid


_ROW_KEYS = ("pid", "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes",
             "swapents", "oom_score_adj", "name")


def parse_kernel_report(text: str) -> KernelReport:
    """Parse a report's text (with or without ``[sec.usec]`` prefixes) with :mod:`oomlens.oomreport`.
    Raises SelftestError without a kill line."""
    from oomlens.oomreport import parse_text

    events = [e for e in parse_text(text, "kernel") if e.victim_pid is not None]
    if not events:
        raise SelftestError("no 'Killed process' line in the report")
    ev = events[-1]  # the text ends with this OOM's kill line
    assert ev.victim_pid is not None
    tasks = {r.pid: {k: getattr(r, k) for k in _ROW_KEYS if getattr(r, k) is not None}
             for r in (ev.table.rows if ev.table is not None else ())}
    return KernelReport(text=text, victim_pid=ev.victim_pid, victim_name=ev.victim_name or "",
                        complete=ev.invoked is not None and ev.summary is not None, constraint=ev.constraint,
                        oom_memcg=ev.oom_memcg, task_memcg=ev.task_memcg, tasks=tasks)


def find_oom_report(records: Sequence[KmsgRecord], pids: set[int] | frozenset[int], *,
                    marker: str | None = None, memcg: str | None = None) -> KernelReport | None:
    """The first OOM report after ``marker`` whose ``Killed process`` names one of ``pids``.

    The report spans from the closest preceding ``invoked oom-killer`` line (not crossing an earlier
    kill line, which would belong to another OOM) to the kill line. Without that header (ratelimited)
    the report is just the kill line and ``complete`` is False; likewise when ``memcg`` is given and
    the header's ``oom_memcg=`` names another cgroup. Returns None when no such kill line exists yet.
    """
    start = 0
    if marker is not None:
        for i, rec in enumerate(records):
            if marker in rec.message:
                start = i + 1
                break
        else:
            return None
    for k in range(start, len(records)):
        m = _KILL.search(records[k].message)
        if m and int(m[1]) in pids:
            break
    else:
        return None
    first = k
    for j in range(k - 1, start - 1, -1):
        msg = records[j].message
        if _KILL.search(msg):
            break
        if "invoked oom-killer:" in msg:
            first = j
            break
    report = parse_kernel_report("\n".join(r.line() for r in records[first:k + 1]))
    if memcg is not None and report.oom_memcg is not None and report.oom_memcg != memcg:
        report = parse_kernel_report(records[k].line())
    return report


# --------------------------------------------------------------------------------------------------
# holders

@dataclass(frozen=True)
class Holder:
    """A process that holds exact memory inside the sandbox.

    ``name`` becomes the process's comm (at most 15 characters, unique within a scenario); memory is
    in MiB; ``pgtable_mib`` is the page-table footprint built by reading one byte per 2 MiB of a
    sparse read-only mapping (each read maps the shared zero page, so RSS does not grow, and costs
    one PTE page); ``threads`` extra threads make it multi-threaded; ``oom_score_adj`` (-1000..1000;
    below 0 needs CAP_SYS_RESOURCE) is written after joining, whatever the harness's own value;
    ``cgroup`` is a path relative to the sandbox ("" = the sandbox itself);
    ``trigger`` makes this holder the allocating task that provokes the OOM; ``pin`` mlocks the
    interpreter's own pages (mapped at start) so a global OOM does not thrash on them first.
    """

    name: str
    anon_mib: float = 1.0
    shmem_mib: float = 0.0
    file_mib: float = 0.0
    pgtable_mib: float = 0.0
    threads: int = 0
    oom_score_adj: int = 0
    cgroup: str = ""
    trigger: bool = False
    pin: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,15}", self.name):
            raise ValueError(f"holder name {self.name!r}: 1-15 characters of [A-Za-z0-9_.+-] (it becomes the comm)")
        if min(self.anon_mib, self.shmem_mib, self.file_mib, self.pgtable_mib, self.threads) < 0:
            raise ValueError(f"holder {self.name}: negative size")
        if self.charged_mib < MIN_CHARGED_MIB:
            raise ValueError(f"holder {self.name}: must hold at least {MIN_CHARGED_MIB} MiB inside the memcg")
        if not -1000 <= self.oom_score_adj <= 1000:
            raise ValueError(f"holder {self.name}: oom_score_adj must be -1000..1000")
        if self.cgroup and not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", self.cgroup):
            raise ValueError(f"holder {self.name}: bad sub-cgroup {self.cgroup!r}")

    @property
    def charged_mib(self) -> float:
        return self.anon_mib + self.shmem_mib + self.file_mib + self.pgtable_mib

    @property
    def pte_regions(self) -> int:
        return int(self.pgtable_mib * MiB) // PAGE_SIZE

    def expected_pages(self) -> dict[str, int]:
        """What this holder adds to its process's counters, in pages (the interpreter adds ~2000 more)."""
        return {"rss_anon": int(self.anon_mib * MiB) // PAGE_SIZE,
                "rss_shmem": int(self.shmem_mib * MiB) // PAGE_SIZE,
                "rss_file": int(self.file_mib * MiB) // PAGE_SIZE,
                "pgtables_pages": self.pte_regions}


# The holder program: a real module, run as a script with the interpreter's isolated mode and no site
# (``python -I -S child.py ARGS``) so that holders start fast and import nothing of oomlens.
_HOLDER_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")


class HolderProcess:
    """A started holder: its spec, its cgroup directory and its process."""

    def __init__(self, spec: Holder, popen: subprocess.Popen[bytes], cgroup_path: str) -> None:
        self.spec = spec
        self.popen = popen
        self.cgroup_path = cgroup_path
        self.eof = False
        self._buf = b""

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def fileno(self) -> int:
        """The holder's stdout (where it says ``ready``, ``killed N``, ...)."""
        return self.popen.stdout.fileno()  # type: ignore[union-attr]

    def readline(self, timeout: float) -> str | None:
        """The next line the holder printed, or None on timeout/EOF (then ``eof`` is set)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            if self.eof or not select.select([self.fileno()], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return None
            chunk = os.read(self.fileno(), 4096)
            if not chunk:
                self.eof = True
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()

    def send(self, data: bytes) -> None:
        """Write ``data`` to the holder. Raises SelftestError, with what the holder said on stderr and its exit
        status, when it has exited."""
        try:
            self.popen.stdin.write(data)  # type: ignore[union-attr]
            self.popen.stdin.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
            raise SelftestError(f"holder {self.name} (pid {self.pid}) exited with status {self.popen.returncode} "
                                f"before it was told {data!r}: {self.stderr_text() or 'it said nothing'}") from None

    def stderr_text(self) -> str:
        fd = self.popen.stderr.fileno()  # type: ignore[union-attr]
        out = b""
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace").strip()

    def status_pages(self) -> dict[str, int]:
        """Memory counters from /proc/PID/status (read by :class:`oomlens.sources.procfs.ProcFS`), in pages;
        threads as a count."""
        from oomlens.sources.procfs import ProcFS

        t = ProcFS().read_task(self.pid)
        return {"rss_anon": t.rss_anon, "rss_file": t.rss_file, "rss_shmem": t.rss_shmem, "swapents": t.swapents,
                "pgtables_pages": t.pgtables_bytes // PAGE_SIZE, "threads": t.num_threads}

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()

    def reap(self, timeout: float) -> bool:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return True

    def __repr__(self) -> str:
        return f"<HolderProcess {self.name} pid={self.pid} rc={self.popen.returncode}>"


# --------------------------------------------------------------------------------------------------
# the sandbox

@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back (it stays pending, then raises KeyboardInterrupt) while cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class MemcgSandbox:
    """A throwaway memory cgroup ``<base>/oomlens-selftest-<pid>-<n>`` with its holders.

    ``base`` defaults to the mounted memory hierarchy (cgroup v1 ``memory``, else cgroup v2 with the
    memory controller). Use it as a context manager: on exit it kills the processes it started and
    removes every cgroup it created, also on exceptions and KeyboardInterrupt; an ``atexit`` hook
    covers sandboxes that are never closed.
    """

    def __init__(self, base: str | None = None, *, headroom_mib: float = DEFAULT_HEADROOM_MIB,
                 file_dir: str | None = None, sweep: bool = True) -> None:
        self._base_arg = base
        self.headroom_bytes = int(headroom_mib * MiB)
        self._file_dir = file_dir
        self._sweep = sweep
        self.version = 0
        self.hierarchy = ""        # "cgroup v2 at /sys/fs/cgroup": where the sandbox lives
        self.path = ""             # filesystem path of the sandbox cgroup (the OOM domain)
        self.kernel_path = ""      # the same cgroup as the kernel prints it (oom_memcg=)
        self.procs: list[HolderProcess] = []
        self._cgroups: list[str] = []
        self._created = False
        self._closed = False
        self.armed = False

    # lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> MemcgSandbox:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        problems = self.close()
        if problems and exc_type is None:
            raise SelftestError("sandbox cleanup incomplete: " + "; ".join(problems),
                                hint="inspect with `ls /sys/fs/cgroup/memory` and `ps`")

    def create(self) -> None:
        if self._created:
            return
        if os.geteuid() != 0:
            raise SelftestError("the self test needs root: it creates memory cgroups and provokes OOM kills",
                                hint=_HINT_ROOT)
        hier = _resolve_hierarchy(self._base_arg)
        if self._sweep:
            sweep_stale(hier.base)
        name = f"{SANDBOX_PREFIX}{os.getpid()}-{next(_COUNTER)}"
        path = os.path.join(hier.base, name)
        try:
            os.mkdir(path, 0o755)
        except OSError as e:
            raise SelftestError(f"cannot create cgroup {path}: {e.strerror}", hint=_HINT_HIERARCHY) from e
        self._created = True
        self._cgroups.append(path)
        atexit.register(self.close)
        self.version, self.path, self.hierarchy = hier.version, path, hier.describe()
        self.kernel_path = os.path.normpath(os.path.join(hier.kernel_base, name))
        if not os.path.exists(os.path.join(path, "cgroup.procs")):
            raise SelftestError(f"{hier.base} is not a cgroup filesystem (mkdir made a plain directory)",
                                hint=_HINT_HIERARCHY)
        self._configure(path)

    def _configure(self, path: str) -> None:
        """Make T = the memory limit exactly and let the OOM killer act (best effort; defaults are fine)."""
        if self.version == 1:
            _try_write(os.path.join(path, "memory.use_hierarchy"), "1")
            _try_write(os.path.join(path, "memory.swappiness"), "0")
            _try_write(os.path.join(path, "memory.oom_control"), "0")
        else:
            _try_write(os.path.join(path, "memory.swap.max"), "0")

    def close(self) -> list[str]:
        """Kill our processes, remove our cgroups; returns what could not be cleaned (idempotent)."""
        if self._closed:
            return []
        self._closed = True
        problems: list[str] = []
        with _sigint_deferred():
            for hp in self.procs:
                hp.kill()
            for hp in self.procs:
                if not hp.reap(timeout=5.0):
                    problems.append(f"pid {hp.pid} ({hp.name}) did not die")
            for cg in reversed(self._cgroups):
                problems += self._empty(cg)
            for cg in reversed(self._cgroups):
                if not _rmdir(cg, timeout=5.0):
                    problems.append(f"cannot remove {cg}")
            atexit.unregister(self.close)
        return problems

    @staticmethod
    def _empty(cg: str) -> list[str]:
        """SIGKILL stragglers that descend from us (never anyone else's processes)."""
        problems = []
        try:
            pids = [int(p) for p in read_text(os.path.join(cg, "cgroup.procs")).split()]
        except OSError:
            return []
        for pid in pids:
            if _is_our_descendant(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            else:
                problems.append(f"foreign pid {pid} in {cg}; left alone")
        return problems

    # cgroups -----------------------------------------------------------------------------------
    def cgroup(self, rel: str = "") -> str:
        """Filesystem path of sub-cgroup ``rel`` (created on first use, with its parents)."""
        cur = self.path
        for part in filter(None, rel.split("/")):
            nxt = os.path.join(cur, part)
            if not os.path.isdir(nxt):
                if self.version == 2 and "memory" not in read_text(os.path.join(cur, "cgroup.subtree_control")).split():
                    write_text(os.path.join(cur, "cgroup.subtree_control"), "+memory")
                os.mkdir(nxt, 0o755)
                self._cgroups.append(nxt)
                self._configure(nxt)
            cur = nxt
        return cur

    def _file(self, v1: str, v2: str) -> str:
        return os.path.join(self.path, v1 if self.version == 1 else v2)

    def usage_bytes(self) -> int:
        return int(read_text(self._file("memory.usage_in_bytes", "memory.current")))

    def limit_bytes(self) -> int | None:
        raw = read_text(self._file("memory.limit_in_bytes", "memory.max")).strip()
        if raw == "max" or int(raw) >= 1 << 62:
            return None
        return int(raw)

    def set_limit(self, nbytes: int | None) -> None:
        if nbytes is None:
            value = "-1" if self.version == 1 else "max"
        else:
            value = str(nbytes - nbytes % PAGE_SIZE)
        write_text(self._file("memory.limit_in_bytes", "memory.max"), value)

    def oom_kill_events(self) -> tuple[str, str]:
        """(file, key) of the sandbox's oom_kill counter (hierarchical on v2, this memcg only on v1)."""
        return self._file("memory.oom_control", "memory.events"), "oom_kill"

    def oom_kill_count(self) -> int:
        """OOM kills in the sandbox's cgroups (summed: v1 counts a kill only in the victim's memcg)."""
        events, key = self.oom_kill_events()
        if self.version == 2:
            return _keyed_int(events, key)
        name = os.path.basename(events)
        return sum(_keyed_int(os.path.join(cg, name), key) for cg in self._cgroups if os.path.isdir(cg))

    def member_pids(self) -> list[int]:
        """Processes in the sandbox's cgroups, pre-order (parents before children)."""
        out = []
        for cg in self._cgroups:
            with contextlib.suppress(OSError):
                out += [int(p) for p in read_text(os.path.join(cg, "cgroup.procs")).split()]
        return out

    # processes ---------------------------------------------------------------------------------
    @property
    def trigger(self) -> HolderProcess | None:
        for hp in self.procs:
            if hp.spec.trigger and hp.returncode is None:
                return hp
        return None

    def spawn(self, holders: Sequence[Holder], *, timeout: float = SPAWN_TIMEOUT_S) -> list[HolderProcess]:
        """Start holders (in parallel) and wait until each has touched all its memory."""
        if not self._created or self._closed:
            raise SelftestError("spawn() on a sandbox that is not open")
        if sum(h.trigger for h in holders) + (self.trigger is not None) > 1:
            raise SelftestError("a sandbox has at most one trigger (allocating) holder")
        events_file, key = self.oom_kill_events()
        started = []
        for h in holders:
            args = {
                "procs": os.path.join(self.cgroup(h.cgroup), "cgroup.procs"), "comm": h.name,
                "adj": h.oom_score_adj, "anon": int(h.anon_mib * MiB), "shmem": int(h.shmem_mib * MiB),
                "file": int(h.file_mib * MiB), "file_dir": "", "ptes": h.pte_regions, "threads": h.threads, "pin": h.pin,
                "trigger": None,
            }
            if h.file_mib:
                args["file_dir"] = self._file_dir or _disk_file_dir()
            if h.trigger:
                args["trigger"] = {"root": self.path, "file": os.path.basename(events_file), "key": key,
                                   "chunk": TRIGGER_CHUNK_BYTES,
                                   "max": self.headroom_bytes + TRIGGER_OVERSHOOT_BYTES}
            popen = subprocess.Popen([sys.executable, "-I", "-S", _HOLDER_PROGRAM, json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            hp = HolderProcess(h, popen, self.cgroup(h.cgroup))
            self.procs.append(hp)
            started.append(hp)
        deadline = time.monotonic() + timeout
        for hp in started:
            line = hp.readline(max(0.0, deadline - time.monotonic()))
            if line != "ready":
                hp.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    hp.popen.wait(2.0)
                why = hp.stderr_text() or line or "timeout"
                hp.reap(1.0)
                raise SelftestError(f"holder {hp.name} did not get ready: {why}")
            self._check_holder(hp)
        return started

    @staticmethod
    def _check_holder(hp: HolderProcess) -> None:
        """Catch environments where memory does not land where intended (e.g. files on tmpfs)."""
        got = hp.status_pages()
        want = hp.spec.expected_pages()
        for key in ("rss_anon", "rss_shmem", "rss_file", "pgtables_pages"):
            if got.get(key, 0) < want[key] - (RSS_LAG_PAGES if key != "pgtables_pages" else 0):
                raise SelftestError(f"holder {hp.name}: {key} is {got.get(key)} pages, expected >= {want[key]}")
        if got.get("threads", 1) != hp.spec.threads + 1:
            raise SelftestError(f"holder {hp.name}: {got.get('threads')} threads, expected {hp.spec.threads + 1}")

    def pid_names(self) -> dict[int, str]:
        return {hp.pid: hp.name for hp in self.procs}

    # arming ------------------------------------------------------------------------------------
    def arm(self) -> int:
        """Start the default allocator if no trigger holder exists, then set limit = usage + headroom.

        Returns the limit in bytes. Nothing in the sandbox allocates between arming and firing.
        """
        if self.trigger is None:
            self.spawn([Holder(ALLOCATOR_NAME, anon_mib=1.0, trigger=True)])
        for _ in range(10):
            want = self.usage_bytes() + self.headroom_bytes
            try:
                self.set_limit(want)
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                time.sleep(0.05)
                continue
            self.armed = True
            return self.limit_bytes() or want
        raise SelftestError(f"cannot set the limit of {self.path} (usage keeps growing)")


def _rmdir(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def sweep_stale(base: str) -> list[str]:
    """Remove empty ``oomlens-selftest-<pid>-*`` cgroups whose creating process is gone.

    Holders of a harness that died exit by themselves (stdin EOF), which leaves empty cgroups behind.
    Processes are never touched here. Returns the removed paths.
    """
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        m = re.fullmatch(re.escape(SANDBOX_PREFIX) + r"(\d+)-\d+", name)
        if not m or _pid_alive(int(m[1])):
            continue
        top = os.path.join(base, name)
        dirs = [d for d, _, _ in os.walk(top)]
        if all(not read_text(os.path.join(d, "cgroup.procs")).split() for d in dirs
               if os.path.exists(os.path.join(d, "cgroup.procs"))):
            if all(_rmdir(d, timeout=0.5) for d in reversed(dirs)):
                removed.append(top)
    return removed


def check_environment(base: str | None = None) -> None:
    """Raise SelftestError (with a hint) unless a sandbox can be created here and the kernel log is readable."""
    with MemcgSandbox(base):
        pass
    _kmsg_cursor().close()


def _kmsg_cursor() -> KmsgCursor:
    try:
        return KmsgCursor(tag="oomlens-selftest")
    except InputError as e:
        raise SelftestError(str(e), hint=e.hint) from e


# --------------------------------------------------------------------------------------------------
# provoking

@dataclass
class ProvokeResult:
    """What one provoked OOM did."""

    victim_pid: int
    victim_name: str
    report: KernelReport
    died: dict[int, int]            # pid -> return code (-9 = SIGKILL) of our processes that are gone
    marker: str
    limit_bytes: int
    trigger_outcome: str | None = None   # what the trigger said: "killed <bytes allocated>" / "no-oom ..."
    extra_kills: list[int] = field(default_factory=list)   # pids killed after the victim (see provoke)


def _space_ooms() -> None:
    with _OOM_CLOCK_LOCK:
        wait = _last_oom + MIN_OOM_INTERVAL - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _note_oom() -> None:
    global _last_oom
    with _OOM_CLOCK_LOCK:
        _last_oom = time.monotonic()


def provoke(sandbox: MemcgSandbox, *, timeout: float = 15.0, cursor: KmsgCursor | None = None) -> ProvokeResult:
    """Arm the sandbox (if needed), make its trigger allocate past the limit, return the kernel's verdict.

    The report is located in the kernel log after a unique marker record written just before firing.
    The limit is lifted as soon as the kill line appears, and the victim is checked to have really
    died by SIGKILL. Pass ``cursor`` to share one log cursor across several provokes.

    A second kill can still happen, rarely: if the victim has flagged its mm MMF_OOM_SKIP (exit_mmap)
    but not yet freed its pages while the trigger retries its charge, the kernel picks another task.
    Such kills are listed in ``extra_kills``; ``victim_pid`` is always the first (the kernel's choice).
    """
    limit = sandbox.limit_bytes() if sandbox.armed else None
    if limit is None:
        limit = sandbox.arm()
    trigger = sandbox.trigger
    assert trigger is not None
    ours = frozenset(sandbox.pid_names())
    cur = _kmsg_cursor() if cursor is None else cursor
    try:
        _space_ooms()
        marker = cur.mark(f"provoke {sandbox.kernel_path}")
        trigger.send(b"g")
        report, outcome = _await_kill(sandbox, cur, trigger, ours, marker, time.monotonic() + timeout)
        sandbox.set_limit(None)
        sandbox.armed = False
        _note_oom()
        victim = next((hp for hp in sandbox.procs if hp.pid == report.victim_pid), None)
        if victim is None:
            raise SelftestError(f"the kernel killed pid {report.victim_pid}, which this sandbox did not start")
        if not victim.reap(timeout=10.0) or victim.returncode != -signal.SIGKILL:
            raise SelftestError(f"pid {victim.pid} ({victim.name}) was reported killed but exited with "
                                f"{victim.returncode}")
        if outcome is None and victim is not trigger:
            outcome = trigger.readline(5.0)     # "killed <bytes touched>", said once it saw the kill
        cur.poll()
        kills = _kills_after(cur.records, marker, ours)
    finally:
        if cursor is None:
            cur.close()
    died = {hp.pid: rc for hp in sandbox.procs if (rc := hp.returncode) is not None}
    return ProvokeResult(victim_pid=report.victim_pid, victim_name=report.victim_name, report=report, died=died,
                         marker=marker, limit_bytes=limit, trigger_outcome=outcome, extra_kills=kills[1:])


def _await_kill(sandbox: MemcgSandbox, cur: KmsgCursor, trigger: HolderProcess, ours: frozenset[int], marker: str,
                deadline: float) -> tuple[KernelReport, str | None]:
    """Wait (select on the log and the trigger's stdout) for our kill line; returns it with the trigger's word."""
    outcome = None
    while True:
        cur.poll()
        report = find_oom_report(cur.records, ours, marker=marker, memcg=sandbox.kernel_path)
        if report is not None:
            return report, outcome
        if outcome is None and not trigger.eof:
            outcome = trigger.readline(0)
        if outcome is not None and outcome.startswith("no-oom"):
            raise SelftestError(f"no OOM kill in {sandbox.path}: the trigger allocated "
                                f"{TRIGGER_OVERSHOOT_BYTES // MiB} MiB past the limit unhindered",
                                hint="is something reclaimable (page cache, swap) charged to the sandbox?")
        if time.monotonic() > deadline:
            died = {hp.pid: hp.returncode for hp in sandbox.procs if hp.returncode is not None}
            raise SelftestError(f"no kernel OOM report for {sandbox.kernel_path} "
                                f"(dead: {died}, oom_kill={sandbox.oom_kill_count()})",
                                hint="is printk working? read `dmesg`")
        fds = [cur.fileno()] + ([trigger.fileno()] if outcome is None and not trigger.eof else [])
        select.select(fds, [], [], 0.05)


def _kills_after(records: Sequence[KmsgRecord], marker: str, pids: frozenset[int]) -> list[int]:
    """Pids (of ``pids``) named by kill lines after ``marker``, in log order."""
    out: list[int] = []
    seen = False
    for rec in records:
        if not seen:
            seen = marker in rec.message
            continue
        m = _KILL.search(rec.message)
        if m and int(m[1]) in pids and int(m[1]) not in out:
            out.append(int(m[1]))
    return out


# --------------------------------------------------------------------------------------------------
# scenarios

@dataclass(frozen=True)
class Scenario:
    """A set of holders designed so the kernel must kill ``expected`` (a holder name); ``notes`` says why."""

    name: str
    holders: tuple[Holder, ...]
    expected: str
    notes: str = ""
    headroom_mib: float = DEFAULT_HEADROOM_MIB

    def __post_init__(self) -> None:
        names = [h.name for h in self.holders]
        if len(set(names)) != len(names):
            raise ValueError(f"scenario {self.name}: holder names must be unique")
        if self.expected not in names + [ALLOCATOR_NAME]:
            raise ValueError(f"scenario {self.name}: expected victim {self.expected!r} is not a holder")
        if sum(h.trigger for h in self.holders) > 1:
            raise ValueError(f"scenario {self.name}: at most one trigger holder")
        if not any(h.trigger for h in self.holders) and ALLOCATOR_NAME in names:
            raise ValueError(f"scenario {self.name}: {ALLOCATOR_NAME!r} is reserved for the default allocator")


@dataclass
class ScenarioResult:
    """One scenario run: the prediction, the kernel's choice and its report."""

    scenario: Scenario
    predicted_pid: int | None
    predict_error: str | None
    kernel_victim_pid: int
    kernel_victim_name: str
    pids: dict[str, int]            # holder name -> pid (includes the allocator)
    report: str
    report_complete: bool
    kernel_tasks: dict[int, dict[str, Any]]
    limit_bytes: int
    cgroup: str                     # filesystem path handed to the predictor
    trigger_pid: int | None
    headroom_bytes: int
    elapsed: float
    attempts: int = 1
    extra_kills: list[int] = field(default_factory=list)   # see provoke(): a rare kernel race
    trigger_outcome: str | None = None
    hierarchy: str = ""             # the memory hierarchy used: "cgroup v1 at /sys/fs/cgroup/memory", ...

    @property
    def trigger_allocated_pages(self) -> int | None:
        """Pages the trigger touched after the prediction (None when it was killed before saying so)."""
        word, _, n = (self.trigger_outcome or "").partition(" ")
        return int(n) // PAGE_SIZE if word == "killed" and n.isascii() and n.isdigit() else None

    @property
    def expected(self) -> str:
        return self.scenario.expected

    @property
    def agrees(self) -> bool:
        return self.predicted_pid is not None and self.predicted_pid == self.kernel_victim_pid

    def holder_of(self, pid: int | None) -> str | None:
        return next((n for n, p in self.pids.items() if p == pid), None)

    @property
    def kernel_holder(self) -> str | None:
        return self.holder_of(self.kernel_victim_pid)

    @property
    def predicted_holder(self) -> str | None:
        return self.holder_of(self.predicted_pid)

    @property
    def as_designed(self) -> bool:
        return self.kernel_holder == self.expected

    def summary(self) -> str:
        verdict = "agree" if self.agrees else "DISAGREE"
        pred = self.predict_error or f"{self.predicted_holder or '?'}[{self.predicted_pid}]"
        return (f"{self.scenario.name}: {verdict}: predicted {pred}, kernel killed "
                f"{self.kernel_holder or self.kernel_victim_name}[{self.kernel_victim_pid}]"
                + ("" if self.as_designed else f" (designed: {self.expected})"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name, "expected": self.expected, "agrees": self.agrees,
            "as_designed": self.as_designed, "predicted_pid": self.predicted_pid,
            "predicted_holder": self.predicted_holder, "predict_error": self.predict_error,
            "kernel_victim_pid": self.kernel_victim_pid, "kernel_victim_name": self.kernel_victim_name,
            "kernel_holder": self.kernel_holder,
            "pids": self.pids, "limit_bytes": self.limit_bytes, "cgroup": self.cgroup,
            "report_complete": self.report_complete, "report": self.report, "elapsed": round(self.elapsed, 3),
            "attempts": self.attempts, "extra_kills": self.extra_kills, "hierarchy": self.hierarchy,
        }


Predictor = Callable[[str], int]


def run_scenario(scenario: Scenario, predict: Predictor, *, base: str | None = None,
                 retries: int = 2) -> ScenarioResult:
    """Build the scenario, ask ``predict(cgroup_fs_path)`` for the victim pid, then provoke the OOM.

    ``predict`` runs after every holder is ready and the limit is set, before the OOM; an exception
    from it is recorded in ``predict_error`` (the OOM is still provoked). If the report came without
    its header (another OOM elsewhere used up the kernel's ratelimit), the scenario is run again, up
    to ``retries`` more times, after waiting out the ratelimit window.
    """
    for attempt in range(1, retries + 2):
        t0 = time.monotonic()
        with MemcgSandbox(base, headroom_mib=scenario.headroom_mib) as sb:
            sb.spawn(scenario.holders)
            limit = sb.arm()
            try:
                predicted: int | None = int(predict(sb.path))
                error = None
            except Exception as e:  # noqa: BLE001 - any predictor failure is a result, not a crash
                predicted, error = None, f"{type(e).__name__}: {e}"
            pr = provoke(sb)
            trigger = next(hp for hp in sb.procs if hp.spec.trigger)
            result = ScenarioResult(
                scenario=scenario, predicted_pid=predicted, predict_error=error,
                kernel_victim_pid=pr.victim_pid, kernel_victim_name=pr.victim_name,
                pids={hp.name: hp.pid for hp in sb.procs}, report=pr.report.text,
                report_complete=pr.report.complete, kernel_tasks=pr.report.tasks, limit_bytes=limit,
                cgroup=sb.path, trigger_pid=trigger.pid, headroom_bytes=sb.headroom_bytes,
                elapsed=time.monotonic() - t0, attempts=attempt, extra_kills=pr.extra_kills,
                trigger_outcome=pr.trigger_outcome, hierarchy=sb.hierarchy)
        if result.report_complete or attempt > retries:
            return result
        time.sleep(5.0)
    raise AssertionError("unreachable")


def _oomlens_predict(cgroup_path: str) -> int:
    from oomlens.analysis.ranking import rank
    from oomlens.sources.live import take_snapshot

    victim = rank(take_snapshot(cgroup=cgroup_path)).victim
    if victim is None:
        raise SelftestError(f"oomlens predicted no victim in {cgroup_path}")
    return victim.task.pid


def run_selftest(scenarios: Sequence[Scenario] | None = None, predict: Predictor | None = None,
                 progress: Callable[[str], None] | None = None, *,
                 base: str | None = None) -> list[ScenarioResult]:
    """Run ``scenarios`` (default :data:`BUILTIN_SCENARIOS`) against the kernel.

    ``predict`` defaults to oomlens's own model (``rank(take_snapshot(cgroup=...))``). ``progress(message)``
    gets one line per scenario, e.g. ``[3/10] shmem-counts: agree: predicted shm36[812], kernel
    killed shm36[812]``; the structured results are returned.
    """
    scenarios = BUILTIN_SCENARIOS if scenarios is None else scenarios
    if predict is None:
        predict = _oomlens_predict
    results = []
    for i, sc in enumerate(scenarios, 1):
        res = run_scenario(sc, predict, base=base)
        results.append(res)
        if progress is not None:
            progress(f"[{i}/{len(scenarios)}] {res.summary()}")
    return results


# Sizes: a python holder starts at ~2100 pages (RssAnon ~650 + RssFile ~1450) before it allocates;
# margins between the designed victim and the runner-up are >= ~2000 pages (8 MiB), far above the
# noise (percpu RSS counters: <= 64 pages per counter here; the allocator grows by ~headroom before
# the kill). The default allocator stays near 2100 + 512 pages, far below every designed victim.
# T (the memcg limit) is about the sum of the sizes below + ~2 MiB, so T//1000 is ~12..16.
BUILTIN_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "largest-anon",
        (Holder("anon12", anon_mib=12), Holder("anon36", anon_mib=36), Holder("anon24", anon_mib=24)),
        expected="anon36",
        notes="baseline: with adj 0 everywhere the largest rss wins (margin 12 MiB)."),
    Scenario(
        "adj-beats-larger",
        (Holder("big40", anon_mib=40), Holder("adj600", anon_mib=16, oom_score_adj=600)),
        expected="adj600",
        notes="adj is worth adj*(T//1000) pages with T = the memcg limit (~59 MiB, T//1000 ~ 14): "
              "16 MiB + 600*14 pages (~4100+8400) beats 40 MiB (10240 pages)."),
    Scenario(
        "adj-scaled-by-limit",
        (Holder("big40", anon_mib=40), Holder("adj100", anon_mib=8, oom_score_adj=100)),
        expected="big40",
        notes="T is the memcg limit, not machine RAM: adj 100 adds only ~1200 pages here (8 MiB + 1200 < 40 MiB); "
              "with T = RAM (~6M pages) it would add ~600000 and adj100 would be chosen."),
    Scenario(
        "shmem-counts",
        (Holder("anon30", anon_mib=30), Holder("shm36", anon_mib=1, shmem_mib=36)),
        expected="shm36",
        notes="memfd shmem pages count (rss_shmem): 37 MiB beats 30 MiB of anon; RssAnon alone or "
              "'rss minus shared' picks anon30."),
    Scenario(
        "file-counts",
        (Holder("anon30", anon_mib=30), Holder("file36", anon_mib=1, file_mib=36)),
        expected="file36",
        notes="mapped page cache of a disk file counts (rss_file, mlocked so reclaim cannot shrink it): "
              "37 MiB beats 30 MiB of anon."),
    Scenario(
        "pgtables-decide",
        (Holder("anon32", anon_mib=32), Holder("anon28pt12", anon_mib=28, pgtable_mib=12)),
        expected="anon28pt12",
        notes="page tables count (pgtables_bytes/4096): 28 MiB rss + 12 MiB of PTE pages (zero-page reads over "
              "6 GiB of sparse mapping) beats 32 MiB; by rss alone anon32 would win."),
    Scenario(
        "threads-one-group",
        (Holder("mt20x8", anon_mib=20, threads=8), Holder("single32", anon_mib=32)),
        expected="single32",
        notes="a process with 8 extra threads is one candidate scored once: 20 MiB < 32 MiB. Summing per "
              "thread (9 x 20 MiB) would pick mt20x8."),
    Scenario(
        "nested-children",
        (Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="a", trigger=True), Holder("a24", anon_mib=24, cgroup="a"),
         Holder("deep36", anon_mib=36, cgroup="b/c"), Holder("d12", anon_mib=12, cgroup="b/d")),
        expected="deep36",
        notes="the OOM is at the limited parent; every task in its subtree is a candidate, so a grandchild "
              "cgroup's 36 MiB wins. The parent itself holds no task (valid on cgroup v2 too)."),
    Scenario(
        "adj1000-tiny",
        (Holder("big40", anon_mib=40), Holder("mid16", anon_mib=16), Holder("tiny", anon_mib=1, oom_score_adj=1000)),
        expected="tiny",
        notes="adj 1000 adds 1000*(T//1000) ~ T pages (~15000 > 40 MiB = 10240): a 1 MiB process is killed first."),
    Scenario(
        "allocator-itself",
        (Holder("a20", anon_mib=20), Holder("alloc36", anon_mib=36, trigger=True), Holder("a24", anon_mib=24)),
        expected="alloc36",
        notes="the allocating task gets no protection: when it is the largest, the kernel kills the task that "
              "hit the limit."),
)
