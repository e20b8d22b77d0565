"""Signalling a process safely: identity (pid + start time) checked through a pidfd, signals sent through it.

A stop-gap for the daemon's early action until ``sources/identity.py`` (branch ``prot``) lands; the daemon
uses only :func:`read_identity`, :func:`open_verified`, :func:`send_signal`, :func:`has_exited`,
:func:`process_mrelease`, so switching is a matter of imports.

Order, so that a reused pid is never signalled: the identity (pid, start time) is recorded when the process
is chosen; at action time a pidfd is opened first and the start time is read again *after* it: equal means
the pidfd refers to the chosen process (a pidfd never changes process), different means the pid was reused
(refused). The signal then goes through the pidfd (``pidfd_send_signal``), never through the pid.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
from dataclasses import dataclass

__all__ = ["IdentityMismatch", "ProcessIdentity", "has_exited", "open_verified", "process_mrelease",
           "read_identity", "send_signal"]

SYS_process_mrelease = 448  # same number on every architecture (Linux 5.15+)


class IdentityMismatch(Exception):
    """The pid now names another process (or none)."""


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process, not a pid: ``start_time`` is field 22 of ``/proc/PID/stat`` (clock ticks since boot)."""

    pid: int
    start_time: int


def read_identity(pid: int, proc_root: str = "/proc") -> ProcessIdentity:
    """Raises ProcessLookupError when the process is gone."""
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessLookupError(errno.ESRCH, f"pid {pid} is gone") from None
    fields = stat[stat.rindex(b")") + 2:].split()
    return ProcessIdentity(pid, int(fields[19]))


def open_verified(ident: ProcessIdentity, proc_root: str = "/proc") -> int:
    """A pidfd for ``ident``; raises IdentityMismatch when the pid is gone or was reused."""
    try:
        fd = os.pidfd_open(ident.pid)
    except ProcessLookupError:
        raise IdentityMismatch(f"pid {ident.pid} is gone") from None
    try:
        now = read_identity(ident.pid, proc_root)
    except ProcessLookupError:
        os.close(fd)
        raise IdentityMismatch(f"pid {ident.pid} is gone") from None
    if now != ident:
        os.close(fd)
        raise IdentityMismatch(f"pid {ident.pid} was reused (start time {now.start_time} != {ident.start_time})")
    return fd


def send_signal(pidfd: int, sig: int) -> bool:
    """Signal through the pidfd; False when the process has already exited."""
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    return True


def has_exited(pidfd: int, timeout: float = 0.0) -> bool:
    """True once the process has exited (a pidfd polls readable then)."""
    ready, _, _ = select.select([pidfd], [], [], timeout)
    return bool(ready)


_libc: ctypes.CDLL | None = None


def process_mrelease(pidfd: int) -> bool:
    """Reap a SIGKILLed process's memory now (``process_mrelease``, syscall 448, Linux 5.15+). False when the
    kernel does not have it or the process is already gone."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    rc = _libc.syscall(SYS_process_mrelease, ctypes.c_int(pidfd), ctypes.c_uint(0))
    return bool(rc == 0)
