"""Alerts: one JSON object per line on stderr (journald keeps each line as one entry, with ``PRIORITY`` from
the ``<N>`` prefix when stderr is the journal), and the optional exec hook.

The hook is run without a shell, with the alert in ``OOMLENS_EVENT``, ``OOMLENS_DOMAIN``, ``OOMLENS_PID``,
``OOMLENS_COMM``, ``OOMLENS_VERDICT``, ``OOMLENS_DETAIL`` (plus the daemon's environment); it is not waited
for (finished hooks are reaped on the next alert), and its failures are logged, never fatal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import IO, Any

__all__ = ["EVENTS", "AlertSink"]

EVENTS = ("victim-changed", "protected-at-risk", "low-headroom", "kernel-oom-kill", "early-kill")
_PRIO = {"info": 6, "notice": 5, "warning": 4, "error": 3, "crit": 2}


class AlertSink:
    def __init__(self, exec_path: str | None = None, stream: IO[str] | None = None, *, journal_prefix: bool = False) -> None:
        self.exec_path = exec_path
        self.stream = stream
        self.journal_prefix = journal_prefix or bool(os.environ.get("JOURNAL_STREAM"))
        self._hooks: list[subprocess.Popen[bytes]] = []
        self.sent = 0
        self._lock = threading.Lock()  # the loop and the kernel-log thread both write

    def _write(self, level: str, doc: dict[str, Any]) -> None:
        line = json.dumps(doc, separators=(",", ":"), default=str)
        if self.journal_prefix:
            line = f"<{_PRIO[level]}>{line}"
        out = self.stream or sys.stderr
        with self._lock:
            out.write(line + "\n")
            out.flush()

    def log(self, msg: str, level: str = "info", **fields: Any) -> None:
        """An operational message (started, reloaded, ...), not an alert: no hook."""
        self._write(level, {"ts": _now(), "level": level, "msg": msg, **fields})

    def alert(self, event: str, domain: str, *, pid: int | None = None, comm: str | None = None,
              verdict: str | None = None, detail: str = "", level: str = "warning", **extra: Any) -> None:
        assert event in EVENTS, event
        self.sent += 1
        self._write(level, {"ts": _now(), "level": level, "event": event, "domain": domain, "pid": pid,
                            "comm": comm, "verdict": verdict, "detail": detail, **extra})
        if self.exec_path:
            self._run_hook({"OOMLENS_EVENT": event, "OOMLENS_DOMAIN": domain,
                            "OOMLENS_PID": "" if pid is None else str(pid), "OOMLENS_COMM": comm or "",
                            "OOMLENS_VERDICT": verdict or "", "OOMLENS_DETAIL": detail})

    def _run_hook(self, env: dict[str, str]) -> None:
        self._hooks = [p for p in self._hooks if p.poll() is None]
        assert self.exec_path is not None
        try:
            self._hooks.append(subprocess.Popen([self.exec_path], env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                                close_fds=True, start_new_session=True))
        except OSError as e:
            self.log(f"alert hook {self.exec_path} failed: {e.strerror or e}", "error")

    def close(self, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        for p in self._hooks:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self._hooks = [p for p in self._hooks if p.poll() is None]


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
