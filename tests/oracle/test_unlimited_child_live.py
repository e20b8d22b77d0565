"""`oomlens top --cgroup CHILD`, for a child cgroup without a limit under a limited parent, ranks the
parent's whole domain (where the OOM would really happen) with the child's tasks marked — on real cgroups."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oomlens.selftest.harness import Holder, MemcgSandbox

pytestmark = pytest.mark.oracle


def test_top_on_an_unlimited_child_ranks_the_limited_parents_domain(memcg_oracle: str) -> None:
    with MemcgSandbox() as sb:
        small, big = sb.spawn([Holder("inchild", anon_mib=8, cgroup="b"), Holder("insibling", anon_mib=32, cgroup="c")])
        sb.set_limit(512 << 20)  # the parent's limit; b and c have none
        out = subprocess.run([sys.executable, "-m", "oomlens", "top", "--all", "--cgroup", sb.cgroup("b"), "--json"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        # T is the parent's limit in pages; the next victim is the sibling's bigger process, not the child's
        assert doc["domain"]["totalpages"] == (512 << 20) // 4096
        assert doc["victim"]["pid"] == big.pid
        marks = {t["pid"]: t["in_requested_cgroup"] for t in doc["tasks"]}
        assert marks[small.pid] is True and marks[big.pid] is False
        assert doc["domain"]["requested_cgroup"] is not None and doc["domain"]["cgroup"] != doc["domain"]["requested_cgroup"]
