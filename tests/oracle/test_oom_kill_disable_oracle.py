"""cgroup v1 ``memory.oom_control`` oom_kill_disable=1: the kernel kills nobody in that memcg (the charging
task waits). oomlens must say so (``victim: null``, outcome ``oom_kill_disabled``) instead of naming a victim
that will never die — checked against the real kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from oomlens.selftest import harness as selftest
from oomlens.selftest.harness import Holder, MemcgSandbox

pytestmark = pytest.mark.oracle


def _oom_control(path: str) -> dict[str, int]:
    with open(os.path.join(path, "memory.oom_control")) as f:
        return {k: int(v) for k, v in (line.split() for line in f if line.strip())}


def test_oom_kill_disable_kills_nobody_and_oomlens_says_so(memcg_oracle: str) -> None:
    with MemcgSandbox() as sb:
        if sb.version != 1:
            pytest.skip("memory.oom_control exists on cgroup v1 only")
        big, small = sb.spawn([Holder("big", anon_mib=24), Holder("small", anon_mib=4)])
        with open(os.path.join(sb.path, "memory.oom_control"), "w") as f:
            f.write("1")
        sb.arm()
        out = subprocess.run([sys.executable, "-m", "oomlens", "top", "--cgroup", sb.path, "--json"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["victim"] is None and doc["outcome"] == "oom_kill_disabled"
        assert doc["domain"]["oom_kill_disabled"] is True
        # without the flag the model would kill "big": the ranking itself is unchanged
        assert doc["tasks"][0]["pid"] == big.pid
        kills_before = sb.oom_kill_count()
        trigger = sb.trigger
        assert trigger is not None
        selftest._space_ooms()
        said = []
        for _ in range(3):  # page cache charged to the sandbox (a fresh venv's files) may absorb a first overshoot
            trigger.send(b"g")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _oom_control(sb.path).get("under_oom"):
                line = trigger.readline(0.1)  # "no-oom N": it allocated past the limit, reclaim made room
                if line is not None:
                    said.append(line)
                    break
            if _oom_control(sb.path).get("under_oom"):
                break
        assert _oom_control(sb.path)["under_oom"] == 1, (
            f"the trigger never reached the limit: it said {said}, usage {sb.usage_bytes()} of {sb.limit_bytes()}")
        time.sleep(1.0)
        # the kernel killed nobody: every holder is alive, the counter did not move, the trigger waits
        assert sb.oom_kill_count() == kills_before
        assert big.returncode is None and small.returncode is None and trigger.returncode is None
        sb.set_limit(None)  # release the waiting trigger before the sandbox is torn down
        assert trigger.readline(10.0) is not None
