"""A forked helper process that computes one result beside this one (two CPUs, one scan in half the time).

:func:`fork_helper` runs ``work()`` in a child forked from this process and returns a :class:`Helper`;
:meth:`Helper.collect` waits for the child and returns what ``work()`` returned (pickled through a pipe), or
None when it failed in any way (the caller then does that work itself). :func:`can_fork_a_helper` says
whether forking is safe and useful here.

The child leaves with ``os._exit``: no atexit handler, no flush of inherited stdio buffers, no ``finally`` of
the parent's frames. It is forked with every signal blocked, so no Python signal handler of this process (a
daemon's SIGTERM, click's SIGINT) ever runs in it; a parent that gives up on it kills it
(:meth:`Helper.abandon`), and one that dies leaves it to fail on the closed pipe.

Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Helper", "can_fork_a_helper", "fork_helper"]


def can_fork_a_helper() -> bool:
    """Two CPUs for this process, and no thread in it but this one (a forked child holds only the forking
    thread: another thread's locks would stay locked in it)."""
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return False
        return len(os.listdir("/proc/self/task")) == 1
    except (AttributeError, OSError):
        return False


@dataclass(slots=True)
class Helper:
    """A :func:`fork_helper` child: its pid and the read end of its pipe (-1 once collected)."""

    pid: int
    rfd: int

    def collect(self) -> Any:
        """What the child's ``work()`` returned, once it has exited with status 0; else None. Closes the pipe
        and reaps the child."""
        chunks = []
        try:
            while chunk := os.read(self.rfd, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        except BaseException:  # KeyboardInterrupt while waiting: the child must not outlive us as a zombie
            self.abandon()
            raise
        self.close()
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        except BaseException:
            self._kill()
            raise
        if status != 0 or not chunks:
            return None
        import pickle  # only a forked helper pays for it

        try:
            return pickle.loads(b"".join(chunks))  # our child, our pipe
        except Exception:  # noqa: BLE001 - a truncated payload: the caller does the work itself
            return None

    def close(self) -> None:
        if self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1

    def abandon(self) -> None:
        """End a child that was not collected: close the pipe, kill, reap (nothing once collected)."""
        if self.rfd < 0:
            return
        self.close()
        self._kill()

    def _kill(self) -> None:
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass


def fork_helper(work: Callable[[], Any]) -> Helper | None:
    """Fork a child that runs ``work()`` and writes its result (pickled) to a pipe; None when no child could
    be started. Any failure in the child ends it with status 1 and no payload."""
    import signal  # only a forked helper pays for it

    try:
        rfd, wfd = os.pipe()
    except OSError:
        return None
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        child = os.fork()
    except OSError:
        child = -1
    if child:  # this process, whether or not the fork succeeded
        os.close(wfd)
        if child < 0:
            os.close(rfd)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            return None
        helper = Helper(child, rfd)
        try:  # a signal that came meanwhile runs its handler now; if that raises, the child goes with us
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except BaseException:
            helper.abandon()
            raise
        return helper
    # the child
    status = 1
    try:
        os.close(rfd)
        import pickle

        payload = memoryview(pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL))
        while payload:
            payload = payload[os.write(wfd, payload):]
        status = 0
    except BaseException:  # noqa: BLE001 - any failure: no payload, the parent does the work itself
        pass
    finally:
        os._exit(status)
