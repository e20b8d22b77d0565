"""Lowering oom_score_adj (negative, -1000) where root has CAP_SYS_RESOURCE: meant for the VM harness
(branch `vm`, Debian 6.1/6.12 guests). On a host without the capability these skip, saying why; the refusal
path is covered there by tests/live/test_protect_live.py and tests/live/test_identity_live.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.procfs import CAP_SYS_RESOURCE, ProcFS

pytestmark = pytest.mark.vm
OOMLENS = [sys.executable, "-m", "oomlens"]


def _cap() -> bool:
    with open("/proc/self/status") as f:
        return bool(next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapEff:")) >> CAP_SYS_RESOURCE & 1)


if not _cap():
    pytestmark = [pytest.mark.vm, pytest.mark.skip(reason="needs CAP_SYS_RESOURCE (runs in the VM harness)")]


def test_lowering_to_negative_and_immune(sleeper) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS()
    with ProcessIdentity.capture(sleeper.pid, procfs) as ident:
        w = procfs.write_oom_score_adj(ident, -500)
        assert (w.before, w.after) == (0, -500)
        w = procfs.write_oom_score_adj(ident, -1000)
        assert w.after == -1000 and procfs.read_oom_score(sleeper.pid) == 0
        # legacy: -17 is stored as -1000, -16 as -16*1000/17 = -941
        assert procfs.write_oom_adj(ident, -16).after == -941
        assert procfs.write_oom_adj(ident, -17).after == -1000


def test_cli_adj_and_audit_see_an_immune_process(sleeper) -> None:  # type: ignore[no-untyped-def]
    r = subprocess.run([*OOMLENS, "adj", str(sleeper.pid), "-1000", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["oom_score_adj"] == -1000, r.stderr
    r = subprocess.run([*OOMLENS, "audit", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    immune = [f for f in json.loads(r.stdout)["findings"] if f["kind"] == "immune" and f["pid"] == sleeper.pid]
    assert len(immune) == 1


def test_policy_protect_applies_when_the_capability_is_held(sleeper, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pol = tmp_path / "p.toml"
    pol.write_text('[[rule]]\nname = "keep"\nmatch = { comm = "sleep", cmdline = "^sleep 300$" }\nintent = "protect"\n')
    r = subprocess.run([*OOMLENS, "policy", "apply", str(pol), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    mine = [json.loads(x) for x in r.stdout.splitlines() if json.loads(x)["pid"] == sleeper.pid]
    assert mine and mine[0]["status"] == "applied" and mine[0]["after"] == -900
