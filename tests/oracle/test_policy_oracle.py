"""A policy's effect through the model *and* the kernel: in a throwaway memcg, the model's victim is the
biggest holder; a `prefer` rule on another holder (raising: allowed without CAP_SYS_RESOURCE) moves the
predicted victim (`policy check`), `policy apply` writes it, and a real OOM in that memcg kills the other one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oomlens.selftest.harness import Holder, MemcgSandbox, provoke

pytestmark = pytest.mark.oracle
OOMLENS = [sys.executable, "-m", "oomlens"]


def test_prefer_rule_moves_the_victim_in_model_and_kernel(memcg_oracle: str, tmp_path: Path) -> None:
    with MemcgSandbox() as sb:
        # by hand: T ~ 40+16+2+headroom = ~59 MiB; protdb 40 MiB vs batchjob 16 MiB + 500*T/1000 (~29.5 MiB) = ~45.5
        sb.spawn([Holder("protdb", anon_mib=40), Holder("batchjob", anon_mib=16), Holder("alloc", anon_mib=2, trigger=True)])
        sb.arm()
        path = sb.kernel_path
        pol = tmp_path / "p.toml"
        pol.write_text(f'[[rule]]\nname = "batch-first"\nmatch = {{ comm = "batchjob", cgroup = "{path}" }}\n'
                       'intent = "prefer"\n')
        r = subprocess.run([*OOMLENS, "policy", "check", str(pol), "--json"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        [rule] = doc["rules"]
        assert [(m["comm"], m["current"], m["intended"]) for m in rule["matches"]] == [("batchjob", 0, 500)]
        [dom] = [d for d in doc["domains"] if d["domain"] == path]
        assert dom["victim_before"]["name"] == "protdb" and dom["victim_after"]["name"] == "batchjob", dom
        r = subprocess.run([*OOMLENS, "policy", "apply", str(pol), "--json"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        [ev] = [json.loads(line) for line in r.stdout.splitlines()]
        assert (ev["comm"], ev["status"], ev["after"]) == ("batchjob", "applied", 500)
        res = provoke(sb)
        assert res.victim_name == "batchjob", res.report
