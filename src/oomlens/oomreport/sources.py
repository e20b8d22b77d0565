"""Where kernel logs come from: files (plain or compressed), stdin, and this host's kernel log.

The only module of :mod:`oomlens.oomreport` that does I/O. Files are read as raw byte chunks (the
parser decodes with ``errors="replace"``); compression is detected from the magic bytes, never
from the file name. Every failure to read becomes :class:`oomlens.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Generator, Iterator
from typing import Any

from oomlens.errors import InputError

__all__ = ["open_binary", "iter_chunks", "iter_kernel_log_lines", "DEFAULT_CHUNK_SIZE"]

DEFAULT_CHUNK_SIZE = 8 << 20

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz (modules imported lazily)


def _open(path: str) -> tuple[Any, Any]:
    """(stream to read, underlying file to close or None). The stream is a buffered binary
    reader, decompressing when the first bytes are a gzip / bzip2 / xz magic number."""
    if path == "-":
        raw = sys.stdin.buffer
        peekable: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        owned = None
    else:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by open_binary
        except FileNotFoundError:
            raise InputError(path, "no such file", hint="check the path; use '-' for stdin") from None
        except IsADirectoryError:
            raise InputError(path, "is a directory", hint="give a log file, not a directory") from None
        except PermissionError:
            raise InputError(path, "permission denied",
                             hint="run as root or with read access (e.g. the adm group)") from None
        except OSError as e:
            raise InputError(path, f"cannot open: {e.strerror or e}") from None
        peekable = owned = f
    try:
        head: bytes = peekable.peek(6)[:6]
    except OSError as e:
        if owned is not None:
            owned.close()
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    if head.startswith(_MAGIC[0]):
        import gzip
        return gzip.GzipFile(fileobj=peekable, mode="rb"), owned
    if head.startswith(_MAGIC[1]):
        import bz2
        return bz2.BZ2File(peekable), owned
    if head.startswith(_MAGIC[2]):
        import lzma
        return lzma.LZMAFile(peekable), owned
    return peekable, owned


class _Guarded(io.RawIOBase):
    """A readable binary stream whose read errors (I/O, corrupt or truncated compression)
    become :class:`InputError`."""

    def __init__(self, stream: Any, path: str) -> None:
        super().__init__()
        self._s = stream
        self._path = path

    def readable(self) -> bool:
        return True

    def _fail(self, e: BaseException) -> InputError:
        return InputError(self._path, f"cannot read: {e}",
                          hint="is the file truncated, or not really compressed?")

    def readinto(self, b: Any, /) -> int | None:
        try:
            n: int | None = self._s.readinto(b)
            return n
        except Exception as e:  # OSError, EOFError, zlib.error, lzma.LZMAError, ...
            raise self._fail(e) from None

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            data: bytes = self._s.read(size)
            return data
        except Exception as e:
            raise self._fail(e) from None


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[_Guarded]:
    """Open ``path`` (``-`` = stdin) for binary reading, gzip / bzip2 / xz decompressed
    transparently (detected by magic bytes). Raises :class:`InputError`."""
    stream, owned = _open(path)
    try:
        yield _Guarded(stream, path)
    finally:
        if stream is not owned and stream is not getattr(sys.stdin, "buffer", None):
            stream.close()
        if owned is not None:
            owned.close()


def iter_chunks(path: str, chunk_size: int | None = None) -> Iterator[bytes]:
    """Yield the bytes of ``path`` (``-`` = stdin) in chunks of about ``chunk_size``, compressed
    files decompressed. Raises :class:`InputError` if it cannot be read."""
    size = chunk_size or DEFAULT_CHUNK_SIZE
    with open_binary(path) as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def iter_kernel_log_lines(since: str | None = None) -> Iterator[str]:
    """This host's kernel log, one line at a time.

    ``journalctl -k -o short-precise --no-pager [--since SINCE]`` when journalctl exists and
    works; otherwise ``dmesg``; otherwise a non-blocking read of ``/dev/kmsg``. Raises
    :class:`InputError` when none of them can be read."""
    import shutil

    errors: list[str] = []
    if shutil.which("journalctl"):
        cmd = ["journalctl", "-k", "-o", "short-precise", "--no-pager"]
        if since:
            cmd += ["--since", since]
        status, err = yield from _run_lines(cmd)
        if status == "ok":
            return
        # an empty journal may just not keep kernel messages (Storage=none, containers): ask dmesg too
        errors.append(f"journalctl: {err or 'no kernel messages in the journal'}")
    if shutil.which("dmesg"):
        status, err = yield from _run_lines(["dmesg"] + (["--since", since] if since else []))
        if status in ("ok", "empty"):
            return
        errors.append(f"dmesg: {err}")
    if since:  # /dev/kmsg has no wall-clock filter: refuse rather than ignore --since silently
        raise InputError("kernel log", "; ".join(errors + ["/dev/kmsg cannot be filtered by --since"]),
                         hint="drop --since, or pass a saved log file")
    try:
        yield from _read_kmsg()
        return
    except OSError as e:
        errors.append(f"/dev/kmsg: {e.strerror or e}")
    raise InputError("kernel log", "; ".join(errors),
                     hint="run as root or a member of systemd-journal/adm, or pass a log file")


def _run_lines(cmd: list[str]) -> Generator[str, None, tuple[str, str]]:
    """Stream a command's stdout lines. Returns ("ok", "") when it exited 0 after producing output,
    ("empty", "") when it exited 0 with nothing to show (no lines in the range asked for), and
    ("failed", reason) when it failed (or found no journal) before any line: then nothing was yielded."""
    import subprocess

    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    except OSError as e:
        return False, str(e)
    produced = no_journal = False
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not produced and "No journal files were found" in line:
                no_journal = True
                continue
            if not produced and line.startswith("-- No entries --"):
                continue
            produced = True
            yield line
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        rc = proc.wait()
    if produced:
        return "ok", ""
    if rc == 0 and not no_journal and "No journal files were found" not in err:
        return "empty", ""
    return "failed", err.splitlines()[-1] if err else ("no journal files" if no_journal else f"exit status {rc}")


def _read_kmsg() -> Iterator[str]:
    """Records already in the kernel ring buffer, read from /dev/kmsg without blocking."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:  # EPIPE: records were overwritten; keep reading
                continue
            if not rec:
                return
            for line in rec.decode("utf-8", "replace").splitlines():
                yield line + "\n"
    finally:
        os.close(fd)
