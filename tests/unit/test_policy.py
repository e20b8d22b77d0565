"""The policy file, the pure engine (plan, domain effects, audit) and `policy export`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from oomlens.analysis.ranking import rank
from oomlens.cli.main import cli
from oomlens.errors import PolicyError
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemcgLimits, MemInfo, Task, VmSysctls
from oomlens.policy.engine import FindingKind, PodView, audit, domain_effects, plan
from oomlens.policy.rules import Intent, parse_policy


@dataclass
class P:
    """A process as a rule sees it (a plain stand-in for sources.procinfo.ProcessInfo)."""

    pid: int
    comm: str
    uid: int = 1000
    cmdline: str | None = ""
    exe: str | None = None
    user: str | None = None
    cgroup: str | None = "/"
    unit: str | None = None

    def unit_name(self) -> str | None:
        return self.unit


GOOD = """\
# first match wins
[[rule]]
name = "hbase-regionserver"
match = { cmdline = "HRegionServer", user = "hbase" }
adj = -800

[[rule]]
name = "batch"
match = { cgroup = "/batch/*" }
intent = "prefer"

[[rule]]
name = "sshd"
match.unit = "ssh*.service"
match.exe = "/usr/sbin/*"
intent = "immune"

[[rule]]
name = "root-shells"
intent = "default"
[rule.match]
comm = "bash"
user = 0
"""


def test_parse_good_policy() -> None:
    pol = parse_policy(GOOD, "p.toml")
    assert [(r.name, r.adj, r.intent, r.line) for r in pol.rules] == [
        ("hbase-regionserver", -800, None, 2), ("batch", 500, Intent.PREFER, 7),
        ("sshd", -1000, Intent.IMMUNE, 12), ("root-shells", 0, Intent.DEFAULT, 18)]
    assert pol.rules[2].warning is not None and "panic" in pol.rules[2].warning
    assert pol.rules[0].warning is None


def test_rules_match_and_first_match_wins() -> None:
    pol = parse_policy(GOOD + '\n[[rule]]\nname = "all-bash"\nmatch = { comm = "bash" }\nadj = 100\n')
    hb = P(1, "java", cmdline="java -cp x org.apache.hadoop.hbase.regionserver.HRegionServer start", user="hbase")
    assert pol.rule_for(hb).name == "hbase-regionserver"  # type: ignore[union-attr]
    assert pol.rule_for(P(2, "java", cmdline=hb.cmdline, user="other")) is None  # all keys must hold
    assert pol.rule_for(P(3, "x", cgroup="/batch/job1")).name == "batch"  # type: ignore[union-attr]
    assert pol.rule_for(P(4, "x", cgroup="/batch")) is None
    assert pol.rule_for(P(5, "sshd", unit="ssh.service", exe="/usr/sbin/sshd")).name == "sshd"  # type: ignore[union-attr]
    assert pol.rule_for(P(5, "sshd", unit="ssh.service", exe="/opt/sshd")) is None
    assert pol.rule_for(P(6, "bash", uid=0)).name == "root-shells"  # type: ignore[union-attr]
    assert pol.rule_for(P(7, "bash", uid=1000)).name == "all-bash"  # type: ignore[union-attr]
    assert pol.rule_for(P(8, "java", cmdline=None, user="hbase")) is None  # cmdline unreadable: no match


@pytest.mark.parametrize(("text", "expected"), [
    ('[[rule]]\nname = "a"\nmatch = { cmdline = "(" }\nadj = 1\n', ["p.toml:3: match.cmdline is not a valid regular"]),
    ('[[rule]]\nname = "a"\nadj = 1001\n', ["p.toml:3: adj must be an integer from -1000 to 1000, got 1001"]),
    ('[[rule]]\nname = "a"\nintent = "shield"\n', ["p.toml:3: intent must be one of"]),
    ('[[rule]]\nname = "a"\n', ["p.toml:1: rule 'a' needs exactly one of adj"]),
    ('[[rule]]\nname = "a"\nadj = 1\nintent = "prefer"\n', ["p.toml:1: rule 'a' needs exactly one of"]),
    ('[[rule]]\nadj = 1\n', ["p.toml:1: every rule needs a name"]),
    ('[[rule]]\nname = "a"\nadj = 1\nmatch = { pid = "3" }\n', ["p.toml:4: unknown match key 'pid'"]),
    ('[[rule]]\nname = "a"\nadj = 1\nmatch = { comm = "a-very-long-command" }\n', ["p.toml:4: match.comm"]),
    ('[[rule]]\nname = "a"\nadj = 1\nbogus = 2\n', ["p.toml:4: unknown rule key 'bogus'"]),
    ('[[rule]]\nname = "a"\nadj = 1\n[[rule]]\nname = "a"\nadj = 2\n', ["p.toml:5: rule name 'a' already used on line 1"]),
    ('[[rule]]\nname = "a"\nadj = = 1\n', ["p.toml:3: not valid TOML"]),
    ('', ["p.toml:1: no [[rule]] tables"]),
    ('[[rule]]\nname = "a"\nadj = 1\n[extra]\nx = 1\n', ["p.toml:4: unknown top-level key 'extra'"]),
])
def test_policy_errors_have_line_numbers(text: str, expected: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.toml")
    lines = str(info.value).splitlines()
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected):
        assert got.startswith(want), got
    assert info.value.hint


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy('[[rule]]\nname = "a"\nadj = 5000\n[[rule]]\nname = "b"\nintent = "x"\n', "p.toml")
    assert [ln for ln, _ in info.value.problems] == [3, 6]


# --- engine over a hand-made memcg snapshot ----------------------------------------------------------

LIMIT = 100_000  # pages


def _snap(db_adj: int = 0, batch_adj: int = 0) -> Snapshot:
    tasks = (Task(pid=10, name="db", uid=1000, rss_anon=50_000, oom_score_adj=db_adj, memcg="/app"),
             Task(pid=11, name="batch", uid=1000, rss_anon=20_000, oom_score_adj=batch_adj, memcg="/app"))
    return Snapshot(taken_at="t", hostname="h", kernel_release="6.18.0", page_size=4096, uptime_s=100.0,
                    meminfo=MemInfo(totalram_pages=1_000_000), sysctls=VmSysctls(0, 0, 1, 60), tasks=tasks,
                    scan_order="pid", cgroup=MemcgLimits("/app", 1, LIMIT), cgroup_pids=(10, 11))


def test_prefer_rule_moves_the_memcg_victim() -> None:
    # by hand, T = 100000: db 50000 points, batch 20000 -> db dies; with batch at +500: 20000 + 500*100 = 70000
    pol = parse_policy('[[rule]]\nname = "batch"\nmatch = { comm = "batch" }\nintent = "prefer"\n')
    procs = [P(10, "db"), P(11, "batch")]
    changes = plan(pol, procs, {10: 0, 11: 0})
    assert [(c.pid, c.current, c.intended, c.needed) for c in changes] == [(11, 0, 500, True)]
    [effect] = domain_effects([_snap()], changes)
    assert (effect.domain, effect.before, effect.after, effect.moved) == ("/app", (10, "db"), (11, "batch"), True)


def test_already_applied_change_is_not_needed() -> None:
    pol = parse_policy('[[rule]]\nname = "batch"\nmatch = { comm = "batch" }\nadj = 500\n')
    [c] = plan(pol, [P(11, "batch")], {11: 500})
    assert not c.needed and not c.lowers


def test_audit_findings_ranked_by_risk() -> None:
    # db holds 50% of T at -500: a protected hog AND (50000 - 500*100 = 0 < 20000) no longer the victim
    r_hog = rank(_snap(db_adj=-500))
    kinds = [f.kind for f in audit([r_hog])]
    assert kinds == [FindingKind.PROTECTED_HOG]
    # db at -100 still has 40000 > 20000: protected yet the next victim
    r_victim = rank(_snap(db_adj=-100))
    fs = audit([r_victim])
    assert [f.kind for f in fs] == [FindingKind.PROTECTED_VICTIM, FindingKind.PROTECTED_HOG]
    assert fs[0].risk > fs[1].risk and fs[0].pid == 10
    # -1000: immune, the highest risk
    fs = audit([rank(_snap(db_adj=-1000))])
    assert fs[0].kind is FindingKind.IMMUNE and fs[0].pid == 10


def test_audit_drift_unit_and_kubernetes() -> None:
    pol = parse_policy('[[rule]]\nname = "db"\nmatch = { comm = "db" }\nadj = -300\n')
    changes = plan(pol, [P(10, "db")], {10: 0})
    pods = [PodView(20, "nginx", "uid-1", "guaranteed", -997), PodView(21, "app", "uid-2", "burstable", 1000),
            PodView(22, "be", "uid-3", "besteffort", 1000), PodView(23, "g", "uid-4", "guaranteed", 0),
            PodView(24, "b", "uid-5", "burstable", 938)]
    fs = audit([], changes=changes, units={10: ("db.service", -500)}, pods=pods, live_adj={10: 0})
    got = {(f.kind, f.pid) for f in fs}
    assert got == {(FindingKind.POLICY_DRIFT, 10), (FindingKind.UNIT_DRIFT, 10), (FindingKind.POLICY_UNIT_CONFLICT, 10),
                   (FindingKind.K8S_DRIFT, 21), (FindingKind.K8S_DRIFT, 23)}
    k = {f.pid: f for f in fs if f.kind is FindingKind.K8S_DRIFT}
    assert "-997" in k[23].message and "3..999" in k[21].message


# --- export -----------------------------------------------------------------------------------------

def test_export_systemd_dropins(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[[rule]]\nname = "pg"\nmatch = { unit = "postgresql.service" }\nadj = -900\n'
                 '[[rule]]\nname = "workers"\nmatch = { unit = "worker@*.service" }\nintent = "prefer"\n'
                 '[[rule]]\nname = "any"\nmatch = { unit = "*.service" }\nadj = 1\n'
                 '[[rule]]\nname = "nounit"\nmatch = { comm = "x" }\nadj = 2\n')
    out = tmp_path / "etc"
    r = CliRunner().invoke(cli, ["policy", "export", "--systemd", str(out), str(f), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (out / "postgresql.service.d" / "50-oomlens.conf").read_text().endswith("[Service]\nOOMScoreAdjust=-900\n")
    assert (out / "worker@.service.d" / "50-oomlens.conf").read_text().endswith("[Service]\nOOMScoreAdjust=500\n")
    assert [w["unit"] for w in doc["written"]] == ["postgresql.service", "worker@.service"]
    assert [s["rule"] for s in doc["skipped"]] == ["any"]


def test_cli_policy_error_exit_code(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[[rule]]\nname = "a"\nadj = 2000\n')
    r = CliRunner().invoke(cli, ["policy", "check", str(f)])
    assert r.exit_code == 12
    assert f"{f}:3: adj must be" in r.output and "hint:" in r.output
    r = CliRunner().invoke(cli, ["policy", "apply", str(tmp_path / "missing.toml")])
    assert r.exit_code == 7 and "hint:" in r.output
