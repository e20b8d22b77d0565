"""Run `oomlens daemon` as a child process and collect its JSON lines (stderr) with arrival times."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time


class DaemonProc:
    def __init__(self, config_text: str, tmp_path, *, extra_env: dict | None = None) -> None:
        self.config = tmp_path / "daemon.toml"
        self.config.write_text(config_text)
        self.lines: list[tuple[float, dict]] = []
        self.raw: list[str] = []
        self._cv = threading.Condition()
        self.proc = subprocess.Popen([sys.executable, "-m", "oomlens", "daemon", "--config", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(extra_env or {})})
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.monotonic()
            with self._cv:
                self.raw.append(line)
                try:
                    self.lines.append((now, json.loads(line.lstrip("<0123456789>"))))
                except ValueError:
                    pass
                self._cv.notify_all()

    def wait_for(self, pred, timeout: float = 20.0) -> tuple[float, dict] | None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, d in self.lines:
                    if pred(d):
                        return t, d
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._t.is_alive():
                    return None
                self._cv.wait(min(left, 0.2))

    def events(self, name: str) -> list[dict]:
        with self._cv:
            return [d for _, d in self.lines if d.get("event") == name]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.proc.returncode

    def __enter__(self) -> DaemonProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
