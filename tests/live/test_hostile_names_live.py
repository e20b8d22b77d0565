"""Real processes with hostile names (issue 7): `[/]`, `[bold]x`, an ESC sequence, a newline and invalid
UTF-8, set with prctl(PR_SET_NAME). top, explain and predict must not crash, must not send a control
character to the terminal, must show each name (escaped) on one line, and keep JSON exact. postmortem gets a
kernel report carrying such names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

# comm bytes (<= 15) -> how /proc shows the name to oomlens (invalid UTF-8 as \xNN) -> how it is displayed
NAMES: list[tuple[bytes, str, str]] = [
    (b"[/]", "[/]", "[/]"),
    (b"[bold]x", "[bold]x", "[bold]x"),
    (b"\x1b[2J\x1b]0;pwn", "\x1b[2J\x1b]0;pwn", "\\x1b[2J\\x1b]0;pwn"),
    (b"two\nlines", "two\nlines", "two\\nlines"),
    (b"bad\xff\xfeutf", "bad\\xff\\xfeutf", "bad\\xff\\xfeutf"),
]

HOLDER = r"""
import ctypes, sys, time
name = bytes.fromhex(sys.argv[1])
buf = bytearray(4 << 20)  # 4 MiB more anon than the others: these outrank idle processes
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:  # PR_SET_NAME
    sys.exit(3)
print("ready", flush=True)
time.sleep(120)
"""


def _oomlens(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "oomlens", *args], capture_output=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def holders():
    procs = []
    try:
        for raw, _, _ in NAMES:
            p = subprocess.Popen([sys.executable, "-c", HOLDER, raw.hex()], stdout=subprocess.PIPE)
            procs.append(p)
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == b"ready\n"
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
            if p.stdout is not None:
                p.stdout.close()


def _check_human(out: bytes, expect: list[str]) -> str:
    text = out.decode("utf-8")  # valid UTF-8 even for an invalid-UTF-8 name
    assert "\x1b" not in text and "\r" not in text
    for shown in expect:
        assert shown in text, shown
    return text


def test_top_explain_predict(holders):
    pids = holders
    r = _oomlens("top", "--all")
    assert r.returncode == 0, r.stderr
    text = _check_human(r.stdout, [shown for _, _, shown in NAMES])
    for pid, (_, _, shown) in zip(pids, NAMES):
        rows = [ln for ln in text.splitlines() if ln.split()[1:2] == [str(pid)]]
        assert len(rows) == 1 and shown in rows[0], (pid, shown)  # one row, name on it
    doc = json.loads(_oomlens("top", "--json", "--all").stdout)
    names = {t["pid"]: t["name"] for t in doc["tasks"]}
    for pid, (_, exact, _) in zip(pids, NAMES):
        assert names[pid] == exact
    for pid, (_, exact, shown) in zip(pids, NAMES):
        r = _oomlens("explain", str(pid))
        assert r.returncode == 0, r.stderr
        assert f"{pid} ({shown})" in _check_human(r.stdout, [])
        assert json.loads(_oomlens("explain", str(pid), "--json").stdout)["task"]["name"] == exact
    adj = [f"--set-adj={pid}=1000" for pid in pids]  # all five lead the kill order
    r = _oomlens("predict", *adj, "--need", "1p")
    assert r.returncode == 0, r.stderr
    _check_human(r.stdout, [])
    r = _oomlens("predict", *adj, "--need", "64M")  # >= 5 kills of ~7 MiB each (4 MiB buffer + python)
    assert r.returncode == 0, r.stderr
    _check_human(r.stdout, [shown for _, _, shown in NAMES])
    kills = json.loads(_oomlens("predict", *adj, "--need", "64M", "--json").stdout)["kills"]
    assert {k["name"] for k in kills[:5]} == {exact for _, exact, _ in NAMES}


SMOKE = Path(__file__).parent.parent / "data" / "oomreport" / "6.18-memcg-v1-smoke.log"


def test_postmortem_report_with_hostile_names(tmp_path):
    lines = []
    for ln in SMOKE.read_text().splitlines():
        if "[   2092]" in ln:
            ln = ln.replace("python3", "[bold]x")
        elif "[   2093]" in ln or "Comm: python3" in ln or "python3 invoked" in ln:
            ln = ln.replace("python3", "\x1b[2J")
        else:
            ln = ln.replace("python3", "([/])")
        lines.append(ln)
    log = tmp_path / "hostile.log"
    log.write_text("\n".join(lines) + "\n")
    r = _oomlens("postmortem", str(log))
    assert r.returncode == 0, r.stderr
    # the parser drops terminal escape sequences from log text (so the ESC name reaches no one); the rest
    # must print as themselves
    text = _check_human(r.stdout, ["2091 (([/]))", "[bold]x"])
    assert "verdict: agrees" in text
    r = _oomlens("postmortem", "-v", str(log))
    assert r.returncode == 0, r.stderr
    _check_human(r.stdout, ["[bold]x"])
    ev = json.loads(_oomlens("postmortem", "--json", str(log)).stdout)["events"][0]
    assert ev["kernel_victim"]["name"] == "([/])"
    assert {"([/])", "[bold]x"} <= {t["name"] for t in ev["tasks"]}
