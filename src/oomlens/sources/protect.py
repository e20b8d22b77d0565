"""The host side of protection policies: the processes as rules see them (with their identities), one
snapshot per OOM domain, the systemd ``OOMScoreAdjust=`` source, the one apply step that writes, and the
watcher that finds new processes."""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from oomlens.errors import (
    AccessDenied,
    AdjustDenied,
    AdjustError,
    CgroupError,
    NoSuchProcess,
    ProcessError,
    ProcessReplaced,
    ProcParseError,
)
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import Task
from oomlens.sources.cgroupfs import CgroupFS
from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import ProcFS
from oomlens.sources.procinfo import ProcessInfo

__all__ = ["ApplyOutcome", "ApplyStatus", "NewProcessPoller", "SystemdUnits", "apply_adj", "domain_snapshots",
           "process_infos"]


def process_infos(procfs: ProcFS, tasks: Snapshot | Iterable[Task], *, identify: bool = True) -> list[ProcessInfo]:
    """A :class:`ProcessInfo` for each user-space process of a snapshot (or of the tasks given, e.g. just
    the new ones from ``procfs.iter_tasks(pids=...)``), with its identity (pid + start time, no pidfd)
    captured first. Kernel threads, zombies and this process are left out; processes that vanish are
    skipped. ``identify=False``: no identity (nothing will be written; the daemon only weighs processes by
    their rules), so nothing is read here."""
    me = os.getpid()
    out = []
    for t in tasks.tasks if isinstance(tasks, Snapshot) else tasks:
        if not t.has_mm or t.is_kthread or t.pid == me:
            continue
        if not identify:
            out.append(ProcessInfo(t.pid, t.name, t.uid, procfs, t.oom_score_adj))
            continue
        try:
            ident = ProcessIdentity.capture(t.pid, procfs, use_pidfd=False)
        except (ProcessError, ProcParseError):
            continue
        out.append(ProcessInfo(t.pid, ident.comm or t.name, t.uid, procfs, t.oom_score_adj, ident))
    return out


def domain_snapshots(procfs: ProcFS, cgroups: CgroupFS | None = None, *, kernel_legacy: bool = False) -> list[Snapshot]:
    """The global snapshot, then one for each memory cgroup that has a limit and (in its subtree) processes:
    for every process's memcg, the nearest cgroup with a limit, itself or an ancestor."""
    glob = take_snapshot(procfs, legacy=kernel_legacy)
    if procfs.root != "/proc" and cgroups is None:
        return [glob]
    cgfs = cgroups if cgroups is not None else CgroupFS(procfs=procfs, page_size=procfs.page_size)
    domains: list[str] = []
    seen: set[str] = set()
    for t in glob.tasks:
        if not t.has_mm:
            continue
        try:
            path = procfs.read_cgroup_of(t.pid).memcg
        except (ProcessError, ProcParseError):
            continue
        if path is None or path in seen:
            continue
        seen.add(path)
        try:
            chain = [cgfs.limits(path), *cgfs.ancestor_limits(path)]
        except CgroupError:
            continue
        for lim in chain:
            if lim.path == "/":
                break
            if lim.memory_max is not None:
                if lim.path not in domains:
                    domains.append(lim.path)
                break
    out = [glob]
    for d in domains:
        try:
            out.append(take_snapshot(procfs, cgfs, cgroup=d, legacy=kernel_legacy))
        except CgroupError:
            continue  # removed meanwhile
    return out


class ApplyStatus(enum.Enum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"      # already at the intended value: nothing written
    DENIED = "denied"            # lowering refused: needs CAP_SYS_RESOURCE
    GONE = "gone"                # exited before the write
    REPLACED = "replaced"        # the pid now names another process: nothing written
    FAILED = "failed"            # other write error, or the kernel did not keep the value


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    pid: int
    comm: str | None
    intended: int
    status: ApplyStatus
    before: int | None
    after: int | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED)


def apply_adj(procfs: ProcFS, ident: ProcessIdentity, value: int, *, dry_run: bool = False) -> ApplyOutcome:
    """The one step that writes a policy's value: re-check the identity, write, read back. Never raises for
    a per-process failure: the outcome says what happened (and only APPLIED means a value was written)."""
    try:
        ident.verify(procfs)
        before = procfs.read_oom_score_adj(ident.pid)
        if before == value:
            return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.UNCHANGED, before, before)
        if dry_run:
            return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.UNCHANGED, before, before, "dry run")
        w = procfs.write_oom_score_adj(ident, value)
        return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.APPLIED, w.before, w.after)
    except ProcessReplaced as exc:
        return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.REPLACED, None, None, str(exc))
    except NoSuchProcess as exc:
        return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.GONE, None, None, str(exc))
    except AdjustDenied as exc:
        return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.DENIED, None, None, str(exc))
    except (AdjustError, AccessDenied, ProcessError, ProcParseError) as exc:
        return ApplyOutcome(ident.pid, ident.comm, value, ApplyStatus.FAILED, None, None, str(exc))


class SystemdUnits:
    """``OOMScoreAdjust=`` of systemd units, read with ``systemctl show -p OOMScoreAdjust --value UNIT``.

    ``systemctl`` may be another program (tests pass a fake one); ``available`` is False when there is no
    systemctl or systemd is not running (``/run/systemd/system`` absent) and a path was not given."""

    def __init__(self, systemctl: str | None = None, *, user: bool = False) -> None:
        self.systemctl = systemctl or shutil.which("systemctl")
        self.available = bool(self.systemctl) and (systemctl is not None or os.path.isdir("/run/systemd/system"))
        self.user = user
        self._cache: dict[str, int | None] = {}

    def oom_score_adjust(self, unit: str) -> int | None:
        """The unit's OOMScoreAdjust= (None when unset, or when the unit or systemd is unknown)."""
        if not self.available or self.systemctl is None:
            return None
        if unit in self._cache:
            return self._cache[unit]
        cmd = [self.systemctl, *(["--user"] if self.user else []), "show", "-p", "OOMScoreAdjust", "--value", unit]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if out.startswith("OOMScoreAdjust="):
            out = out.partition("=")[2]
        try:
            value: int | None = int(out)
        except ValueError:
            value = None
        self._cache[unit] = value
        return value


class NewProcessPoller:
    """Finds processes that appeared since the last call: a cheap poll of ``/proc``'s pid list (one
    ``listdir``). A restarted service is a new pid, so it is found too. Not the netlink proc connector (it
    needs CAP_NET_ADMIN, which a root without full capabilities may lack, and drops events under load
    without saying which); polling every 250 ms covers a new process well within a second. A process that
    starts and exits between two polls is never seen (it needed no protection); a pid that exits and is
    reused within one interval would be missed (it takes pid_max forks)."""

    def __init__(self, procfs: ProcFS, known: Iterable[int] = ()) -> None:
        self.procfs = procfs
        self._seen: set[int] = set(procfs.pids()) | set(known)

    def poll(self) -> list[int]:
        now = self.procfs.pids()
        new = [p for p in now if p not in self._seen]
        self._seen = set(now)
        return new


def watch(poller: NewProcessPoller, handle: Callable[[list[int]], None], *, interval: float = 0.25,
          stop: Callable[[], bool] = lambda: False) -> None:
    """Call ``handle(new_pids)`` for each batch of new processes until ``stop()``."""
    import time

    while not stop():
        new = poller.poll()
        if new:
            handle(new)
        time.sleep(interval)
