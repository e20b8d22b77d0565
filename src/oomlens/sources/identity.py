"""Process identity: which process a pid meant when we looked, so that nothing is ever written to or
signalled at a *different* process that inherited the pid.

A :class:`ProcessIdentity` is taken once (:meth:`ProcessIdentity.capture`) and holds

* ``pid``;
* ``start_time``: field 22 of ``/proc/PID/stat``, the start time in clock ticks after boot. Two processes
  that hold the same pid one after the other have different start times unless both start within the
  same tick *and* the pid wrapped in between, which is not possible (a wrap takes ``pid_max`` forks);
* ``boot_id`` (``/proc/sys/kernel/random/boot_id``), when readable, so an identity saved to disk is never
  matched after a reboot;
* ``pidfd`` (``pidfd_open``, Linux 5.3+), only for the live ``/proc`` of our own pid namespace: a file
  descriptor that names the process itself, not its number. Signals go through it
  (``pidfd_send_signal``), so they reach this process or nobody.

Capture order closes the race with the pid being recycled while we read: the pidfd is opened first,
then ``stat`` is read, then the pidfd is checked to be alive (signal 0). If it is, the ``stat`` we read
was that process's, because the pid cannot be reused while the process it names is alive.

:meth:`ProcessIdentity.verify` re-reads the start time (and checks the pidfd) and raises
:class:`~oomlens.errors.ProcessReplaced` when the pid now names another process, or
:class:`~oomlens.errors.NoSuchProcess` when it is gone. Every write (``ProcFS.write_oom_score_adj``) and
every signal goes through it.

For acting on a process chosen earlier (the daemon's early kill), :meth:`ProcessIdentity.pinned` opens a
pidfd *after* the choice and re-reads the start time through it: equal, and the pidfd names the chosen
process for as long as it lives; different, and the pid was reused (:class:`ProcessReplaced`, nothing is
signalled). :meth:`~ProcessIdentity.has_exited` and :meth:`~ProcessIdentity.release_memory`
(``process_mrelease``, Linux 5.15+) work on that pidfd.
"""

from __future__ import annotations

import errno
import os
import select
import signal
from typing import TYPE_CHECKING

from oomlens.errors import NoSuchProcess, ProcessError, ProcessReplaced, ProcParseError

if TYPE_CHECKING:
    from oomlens.sources.procfs import ProcFS

__all__ = ["ProcessIdentity", "pidfds_available", "read_boot_id"]

_HAS_PIDFD = hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")
SYS_process_mrelease = 448  # the same number on every architecture (Linux 5.15+)


def read_boot_id(proc_root: str = "/proc") -> str | None:
    try:
        with open(f"{proc_root}/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _is_live_proc(procfs: ProcFS) -> bool:
    """Is this ``ProcFS`` the live ``/proc`` of our pid namespace (so pids there are pids for pidfd_open)?"""
    try:
        return os.readlink(f"{procfs.root}/self") == str(os.getpid())
    except OSError:
        return False


def pidfds_available(procfs: ProcFS) -> bool:
    """Can identities over ``procfs`` hold pidfds: Python and the kernel have them, and ``procfs`` is the live
    ``/proc`` of our pid namespace (pids in a recorded or foreign ``/proc`` are not ours to open)."""
    return _HAS_PIDFD and _is_live_proc(procfs)


class ProcessIdentity:
    """One process, as it was when captured: pid + start time (+ boot id, + pidfd where possible).

    Equality and hashing use (pid, start_time, boot_id). Close the pidfd with :meth:`close` (or use it as a
    context manager); a garbage-collected identity closes it too.
    """

    __slots__ = ("_fd", "boot_id", "comm", "pid", "start_time")

    def __init__(self, pid: int, start_time: int, *, boot_id: str | None = None, comm: str | None = None,
                 pidfd: int | None = None) -> None:
        self.pid = pid
        self.start_time = start_time
        self.boot_id = boot_id
        self.comm = comm
        self._fd = pidfd

    # --- capture ---------------------------------------------------------------------------------

    @classmethod
    def capture(cls, pid: int, procfs: ProcFS, *, use_pidfd: bool | None = None) -> ProcessIdentity:
        """Identify the process that holds ``pid`` now. ``use_pidfd`` None: when the kernel has pidfds and
        ``procfs`` is the live ``/proc``. Raises NoSuchProcess (no such pid), AccessDenied, ProcParseError."""
        if use_pidfd is None:
            use_pidfd = pidfds_available(procfs)
        fd = None
        if use_pidfd:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                raise NoSuchProcess(pid) from None
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EINVAL):  # EINVAL: pid is a thread, not a process
                    raise ProcessError(pid, None, f"pidfd_open({pid}): {exc.strerror}") from None
        try:
            stat = procfs.read_stat(pid)
            ident = cls(pid, int(stat["starttime"]), boot_id=read_boot_id(procfs.root), comm=str(stat["comm"]),
                        pidfd=fd)
            if fd is not None and not ident._pidfd_alive():
                raise NoSuchProcess(pid)
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        return ident

    # --- checks ----------------------------------------------------------------------------------

    @property
    def pidfd(self) -> int | None:
        return self._fd

    def _pidfd_alive(self) -> bool:
        assert self._fd is not None
        try:
            signal.pidfd_send_signal(self._fd, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, we may not signal it
        return True

    def verify(self, procfs: ProcFS) -> None:
        """Raise unless ``pid`` still names the captured process.

        NoSuchProcess: it exited (its pidfd reports it gone, or ``/proc/PID`` is missing); ProcessReplaced:
        the pid now belongs to another process (start time or boot id differ)."""
        if self._fd is not None and not self._pidfd_alive():
            raise NoSuchProcess(self.pid, self.comm, f"pid {self.pid} ({self.comm}) has exited")
        try:
            stat = procfs.read_stat(self.pid)
        except ProcParseError:
            if not procfs.pid_exists(self.pid):
                raise NoSuchProcess(self.pid, self.comm) from None
            raise
        start = int(stat["starttime"])
        boot = read_boot_id(procfs.root) if self.boot_id is not None else None
        if start != self.start_time or boot != self.boot_id:
            raise ProcessReplaced(self.pid, self.comm, str(stat["comm"]))

    def pinned(self, procfs: ProcFS) -> ProcessIdentity:
        """This process, now held by a pidfd opened *after* this identity was taken: the pidfd is opened, the
        start time re-read, the pidfd checked alive (as :meth:`capture` does), and the result compared with
        this identity. The returned identity (close it) names this process for as long as it lives.

        Raises ProcessReplaced when the pid now names another process (nothing may be done to it),
        NoSuchProcess when it is gone, ProcessError when no pidfd can be had (Python or kernel before 5.3)."""
        now = ProcessIdentity.capture(self.pid, procfs, use_pidfd=_HAS_PIDFD)
        if now.pidfd is None:
            now.close()
            raise ProcessError(self.pid, self.comm, f"cannot hold pid {self.pid} by a pidfd (needs Linux 5.3+)",
                               hint="without a pidfd a reused pid could be hit; nothing was done")
        if now != self:
            now.close()
            raise ProcessReplaced(self.pid, self.comm, now.comm)
        return now

    def is_current(self, procfs: ProcFS) -> bool:
        try:
            self.verify(procfs)
        except (NoSuchProcess, ProcessReplaced):
            return False
        return True

    # --- signals ---------------------------------------------------------------------------------

    def send_signal(self, sig: int, procfs: ProcFS) -> None:
        """Send ``sig`` to this process and to no other. Through the pidfd when there is one (the kernel
        then guarantees it); else after :meth:`verify` (a narrow window remains; said in the README)."""
        if self._fd is not None:
            try:
                signal.pidfd_send_signal(self._fd, sig)
            except ProcessLookupError:
                raise NoSuchProcess(self.pid, self.comm, f"pid {self.pid} ({self.comm}) has exited") from None
            except PermissionError:
                raise ProcessError(self.pid, self.comm, f"not permitted to signal pid {self.pid}",
                                   hint="run as root, or as the process owner") from None
            return
        self.verify(procfs)
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            raise NoSuchProcess(self.pid, self.comm) from None
        except PermissionError:
            raise ProcessError(self.pid, self.comm, f"not permitted to signal pid {self.pid}",
                               hint="run as root, or as the process owner") from None

    def has_exited(self, procfs: ProcFS, timeout: float = 0.0) -> bool:
        """True once the process has exited: its pidfd polls readable (waiting up to ``timeout`` seconds);
        without a pidfd, when the pid no longer names it."""
        if self._fd is not None:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            return bool(ready)
        return not self.is_current(procfs)

    def release_memory(self) -> bool:
        """After SIGKILL: reap the process's memory now rather than as its exit proceeds (``process_mrelease``
        through the pidfd, Linux 5.15+). False without a pidfd, on older kernels, or when it is already gone."""
        if self._fd is None:
            return False
        import ctypes  # only the daemon's early kill gets here

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.syscall(SYS_process_mrelease, ctypes.c_int(self._fd), ctypes.c_uint(0)) == 0)

    # --- lifetime and value semantics ------------------------------------------------------------

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> ProcessIdentity:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass

    def key(self) -> tuple[int, int, str | None]:
        return (self.pid, self.start_time, self.boot_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProcessIdentity) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return f"ProcessIdentity(pid={self.pid}, start_time={self.start_time}, comm={self.comm!r})"
