"""`oomlens daemon` as a process: SIGHUP with a broken config keeps the running one; a taken exporter port is
one clear error line with a hint and exit code 11."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
from oracle.daemon_proc import DaemonProc


def test_port_taken_is_one_line_hint_and_exit_11(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = tmp_path / "d.toml"
        cfg.write_text(f'[exporter]\nlisten = "127.0.0.1:{port}"\n')
        p = subprocess.run([sys.executable, "-m", "oomlens", "daemon", "--config", str(cfg)],
                           capture_output=True, text=True, timeout=30)
    assert p.returncode == 14, p.stderr
    lines = p.stderr.strip().splitlines()
    assert lines[0] == f"oomlens: error: exporter 127.0.0.1:{port}: address already in use"
    assert lines[1].startswith("  hint: ") and "listen" in lines[1]
    assert len(lines) == 2


def test_unknown_cgroup_domain_refuses_to_start(tmp_path) -> None:
    cfg = tmp_path / "d.toml"
    cfg.write_text('[exporter]\nlisten = ""\n[[domain]]\npath = "/no/such/oomlens-cgroup"\n')
    p = subprocess.run([sys.executable, "-m", "oomlens", "daemon", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 4 and "no such cgroup" in p.stderr


def test_sighup_with_a_broken_config_keeps_the_old_one(tmp_path) -> None:
    good = 'interval = "1s"\n[exporter]\nlisten = ""\n[alerts]\ntop_k = 2\n'
    with DaemonProc(good, tmp_path) as d:
        assert d.wait_for(lambda x: x.get("msg") == "watching", 20), "".join(d.raw)
        d.config.write_text(good.replace("top_k = 2", "top_k = 0"))
        d.proc.send_signal(signal.SIGHUP)
        got = d.wait_for(lambda x: "reload failed" in x.get("msg", ""), 30)
        assert got is not None, "".join(d.raw)
        assert ":5: [alerts] top_k 0" in got[1]["msg"]
        assert d.proc.poll() is None, "the daemon died on a broken reload"
        d.config.write_text(good.replace('interval = "1s"', 'interval = "2s"'))
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_for(lambda x: x.get("msg") == "config reloaded", 30), "".join(d.raw)
        rc = d.stop()
    assert rc == 0
    assert d.wait_for(lambda x: x.get("msg") == "stopped", 1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly(tmp_path, sig) -> None:
    with DaemonProc('[exporter]\nlisten = ""\n', tmp_path) as d:
        assert d.wait_for(lambda x: x.get("msg") == "started", 20)
        d.proc.send_signal(sig)
        assert d.proc.wait(10) == 0
    assert all(json.loads(line.lstrip("<0123456789>")) for line in d.raw)

