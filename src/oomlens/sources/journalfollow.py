"""Follow the kernel messages of the systemd journal (``journalctl -k -f``): the daemon's fallback when
``/dev/kmsg`` cannot be read. Same small interface as :class:`oomlens.sources.kernellog.KmsgCursor`'s live
use: :meth:`fileno` to wait on, :meth:`poll_lines` for the new lines, ``overrun``/``lost`` (always 0: the
journal does not say)."""

from __future__ import annotations

import os
import shutil
import subprocess

from oomlens.errors import InputError

__all__ = ["JournalFollower"]


class JournalFollower:
    def __init__(self) -> None:
        exe = shutil.which("journalctl")
        if exe is None:
            raise InputError("journal", "journalctl not found", hint="run as root so /dev/kmsg can be read")
        self.overrun = 0
        self.lost = 0
        self._buf = b""
        try:
            self._proc = subprocess.Popen([exe, "-k", "-f", "-n", "0", "-o", "short-monotonic", "--no-pager"],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise InputError("journal", f"cannot run journalctl: {e.strerror}") from None
        assert self._proc.stdout is not None
        self._fd = self._proc.stdout.fileno()
        os.set_blocking(self._fd, False)

    def fileno(self) -> int:
        return self._fd

    def poll_lines(self) -> list[str]:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [ln.decode("utf-8", "replace") + "\n" for ln in lines]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
