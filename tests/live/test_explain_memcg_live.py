"""`oomlens explain PID` in the global domain points at the tighter memcg domain of a limited cgroup."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.live
BASE = "/sys/fs/cgroup/memory"


def _writable() -> bool:
    return os.geteuid() == 0 and os.path.isdir(BASE) and os.access(BASE, os.W_OK)


@pytest.mark.skipif(not _writable(), reason="needs root and a writable cgroup-v1 memory hierarchy")
def test_explain_names_the_memcg_domain():
    cg = os.path.join(BASE, f"oomlens-explain-{os.getpid()}")
    os.mkdir(cg)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
            f.write(str(200 << 20))
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(child.pid))
        run = lambda *a: json.loads(subprocess.run([sys.executable, "-m", "oomlens", "explain", str(child.pid),
                                                    "--json", *a], capture_output=True, text=True, check=True).stdout)
        name = os.path.basename(cg)
        notes = run()["notes"]
        assert any(f"--cgroup /{name}" in n and "51200 pages" in n for n in notes), notes
        doc = run("--cgroup", f"/{name}")
        assert doc["domain"]["totalpages"] == 51200 and doc["task"]["pid"] == child.pid
        assert not any("--cgroup" in n for n in doc["notes"])
    finally:
        child.kill()
        child.wait()
        os.rmdir(cg)
