"""``oomlens policy check|apply|export`` and ``oomlens audit``: oom_score_adj by policy."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from oomlens.cli.common import _emit_json, handle_errors
from oomlens.errors import AdjustDenied, AdjustError, InputError
from oomlens.policy.engine import Change, PodView, audit, domain_effects, plan
from oomlens.policy.rules import Policy, load_policy


def _plan_live(policy: Policy, proc: str) -> tuple[Any, list[Any], list[Change]]:
    from oomlens.sources.live import take_snapshot
    from oomlens.sources.procfs import ProcFS
    from oomlens.sources.protect import process_infos

    procfs = ProcFS(proc)
    snap = take_snapshot(procfs)
    infos = process_infos(procfs, snap)
    return procfs, infos, plan(policy, infos, {i.pid: i.oom_score_adj for i in infos})


@click.group("policy")
def policy_group() -> None:
    """Manage oom_score_adj by a policy file (TOML rules; see README 'Policy file')."""


@policy_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.option("--proc", default="/proc", show_default=True, hidden=True)
@handle_errors
def check(file: str, as_json: bool, proc: str) -> None:
    """Validate FILE, list what each rule matches now (current -> intended adj), and each OOM domain's
    predicted victim before -> after. Writes nothing."""
    from oomlens.sources.protect import domain_snapshots

    policy = load_policy(file)
    procfs, _infos, changes = _plan_live(policy, proc)
    effects = domain_effects(domain_snapshots(procfs), changes)
    if as_json:
        _emit_json({"policy": file, "valid": True,
                    "rules": [{"name": r.name, "line": r.line, "adj": r.adj,
                               "intent": r.intent.name.lower() if r.intent else None, "match": r.match.describe(),
                               "warning": r.warning, "matches": [c.to_dict() for c in changes if c.rule is r]}
                              for r in policy.rules],
                    "domains": [e.to_dict() for e in effects]})
        return
    click.echo(f"{file}: valid, {len(policy.rules)} rules")
    for r in policy.rules:
        mine = [c for c in changes if c.rule is r]
        click.echo(f"rule {r.name!r} (line {r.line}) -> adj {r.adj}: {len(mine)} process(es)")
        if r.warning:
            click.echo(f"  warning: {r.warning}")
        for c in mine:
            click.echo(f"  pid {c.pid} {c.comm}: {c.current} -> {c.intended}" + ("" if c.needed else " (already)"))
    for e in effects:
        click.echo(f"domain {e.domain}: victim {_fmt(e.before)} -> {_fmt(e.after)}" + (" (moved)" if e.moved else ""))


def _fmt(v: tuple[int, str] | None) -> str:
    return "none" if v is None else f"pid {v[0]} ({v[1]})"


def _report(outcomes: list[Any], as_json: bool, changes: dict[int, Change], stamp: bool) -> None:
    for o in outcomes:
        c = changes.get(o.pid)
        rule = c.rule.name if c else None
        if as_json:
            sys.stdout.write(__import__("json").dumps(
                {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": o.pid, "comm": o.comm, "rule": rule,
                 "intended": o.intended, "status": o.status.value, "before": o.before, "after": o.after,
                 "message": o.message}) + "\n")
            sys.stdout.flush()
            continue
        prefix = time.strftime("%H:%M:%S ") if stamp else ""
        if o.status.value == "applied":
            msg = f"pid {o.pid} {o.comm}: {o.before} -> {o.after} (rule {rule!r})"
        elif o.status.value == "unchanged":
            msg = f"pid {o.pid} {o.comm}: already {o.before} (rule {rule!r})" if o.message is None else \
                f"pid {o.pid} {o.comm}: would set {o.before} -> {o.intended} (rule {rule!r}, dry run)"
        else:
            msg = f"pid {o.pid} {o.comm}: {o.status.value}, not set to {o.intended} (rule {rule!r}): {o.message}"
        click.echo(prefix + msg)


@policy_group.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--watch", is_flag=True, help="Keep applying to new matching processes (polls /proc every 250 ms).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per process and change (JSON lines).")
@click.option("--proc", default="/proc", show_default=True, hidden=True)
@click.option("--interval", default=0.25, hidden=True, type=float)
@handle_errors
def apply(file: str, dry_run: bool, watch: bool, as_json: bool, proc: str, interval: float) -> None:
    """Apply FILE once: every matching process gets its rule's adj (identity re-checked, read back).
    Exit 10 if a lowering was refused (no CAP_SYS_RESOURCE), 11 if a write failed; the others are applied."""
    from oomlens.sources.protect import NewProcessPoller, apply_adj, process_infos

    policy = load_policy(file)
    for r in policy.rules:
        if r.warning:
            click.echo(f"oomlens: warning: rule {r.name!r}: {r.warning}", err=True)
    procfs, infos, changes = _plan_live(policy, proc)
    by_pid = {c.pid: c for c in changes}
    poller = NewProcessPoller(procfs) if watch else None
    idents = {i.pid: i.identity for i in infos}
    outcomes = [apply_adj(procfs, idents[c.pid], c.intended, dry_run=dry_run) for c in changes if idents[c.pid]]
    _report(outcomes, as_json, by_pid, False)
    failures = [o for o in outcomes if o.status.value in ("denied", "failed")]
    if poller is not None:
        click.echo(f"oomlens: watching for new processes (every {interval:g}s); Ctrl-C stops", err=True)
        try:
            while True:
                time.sleep(interval)
                new = poller.poll()
                if not new:
                    continue
                infos = process_infos(procfs, procfs.iter_tasks(pids=new))
                new_changes = plan(policy, infos, {i.pid: i.oom_score_adj for i in infos})
                by_pid.update({c.pid: c for c in new_changes})
                idents = {i.pid: i.identity for i in infos}
                got = [apply_adj(procfs, idents[c.pid], c.intended, dry_run=dry_run)
                       for c in new_changes]
                _report(got, as_json, by_pid, True)
        except KeyboardInterrupt:
            return
    if not failures:
        return
    denied = [o for o in failures if o.status.value == "denied"]
    if denied:
        raise AdjustDenied(f"{len(denied)} of {len(outcomes)} changes refused by the kernel (lowering needs "
                           f"CAP_SYS_RESOURCE); the others are as listed")
    raise AdjustError(f"{len(failures)} of {len(outcomes)} changes failed; the others are as listed",
                      hint="see each failed line above")


@policy_group.command("export")
@click.option("--systemd", "systemd_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for drop-ins, e.g. /etc/systemd/system.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def export(systemd_dir: str, file: str, as_json: bool) -> None:
    """Write DIR/<unit>.d/50-oomlens.conf ([Service] OOMScoreAdjust=N) for each rule that names a unit.
    Rules whose unit is a glob are skipped (a drop-in names one unit; systemd's own `foo@.service.d` and
    prefix drop-ins `foo-.service.d` are written for `foo@*.service` and `foo-*.service`)."""
    policy = load_policy(file)
    written: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for r in policy.rules:
        unit = r.match.unit
        if unit is None:
            continue
        target = _dropin_unit(unit)
        if target is None:
            skipped.append({"rule": r.name, "unit": unit, "reason": "unit is a glob no drop-in directory can name"})
            continue
        d = os.path.join(systemd_dir, f"{target}.d")
        path = os.path.join(d, "50-oomlens.conf")
        body = (f"# written by oomlens policy export from {os.path.abspath(file)} rule {r.name!r}\n"
                f"[Service]\nOOMScoreAdjust={r.adj}\n")
        try:
            os.makedirs(d, exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(body)
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(path, f"cannot write: {exc.strerror}", hint="is DIR writable?") from None
        written.append({"rule": r.name, "unit": target, "path": path, "oom_score_adjust": r.adj, "warning": r.warning})
    if as_json:
        _emit_json({"written": written, "skipped": skipped})
        return
    for w in written:
        click.echo(f"{w['path']}: OOMScoreAdjust={w['oom_score_adjust']} (rule {w['rule']!r})")
    for s in skipped:
        click.echo(f"skipped rule {s['rule']!r}: {s['unit']}: {s['reason']}", err=True)
    if written:
        click.echo("then: systemctl daemon-reload, and restart the units (OOMScoreAdjust= applies at start)")


def _dropin_unit(pattern: str) -> str | None:
    """The unit name a drop-in directory is named after, for a unit glob; None if none fits."""
    if not any(ch in pattern for ch in "*?["):
        return pattern
    for sep in ("@", "-"):
        stem, star, suffix = pattern.partition(sep + "*")
        if star and suffix.startswith(".") and not any(ch in stem + suffix for ch in "*?["):
            return f"{stem}{sep}{suffix}"  # foo@.service (template), foo-.service (prefix drop-in)
    return None


@click.command("audit")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Also report drift from this policy.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--systemctl", default=None, hidden=True, help="systemctl program (tests).")
@click.option("--proc", default="/proc", show_default=True, hidden=True)
@handle_errors
def audit_cmd(policy_file: str | None, as_json: bool, systemctl: str | None, proc: str) -> None:
    """Protection risks, highest first: processes at -1000; protected processes holding most of a domain's
    memory or that are its next victim anyway; drift between the policy, systemd units' OOMScoreAdjust= and
    the live values; Kubernetes containers whose value differs from the kubelet's QoS rule."""
    from oomlens.analysis.ranking import rank
    from oomlens.sources.live import take_snapshot
    from oomlens.sources.procfs import ProcFS
    from oomlens.sources.protect import SystemdUnits, domain_snapshots, process_infos

    policy = load_policy(policy_file) if policy_file else None
    procfs = ProcFS(proc)
    snaps = domain_snapshots(procfs) if proc == "/proc" else [take_snapshot(procfs)]
    rankings = [rank(s) for s in snaps]
    infos = process_infos(procfs, snaps[0])
    live = {i.pid: i.oom_score_adj for i in infos}
    changes = plan(policy, infos, live) if policy else []
    systemd = SystemdUnits(systemctl)
    units: dict[int, tuple[str, int | None]] = {}
    pods: list[PodView] = []
    for i in infos:
        c = i.container
        if c is not None and c.pod_uid is not None and c.qos is not None:
            pods.append(PodView(i.pid, i.comm, c.pod_uid, c.qos.value, i.oom_score_adj))
        u = i.unit
        if systemd.available and u is not None and not u.is_user and u.name.endswith(".service"):
            units[i.pid] = (u.name, systemd.oom_score_adjust(u.name))
    findings = audit(rankings, changes=changes, units=units, pods=pods, live_adj=live)
    notes = [] if systemd.available else ["systemd not running here: units' OOMScoreAdjust= not compared"]
    if as_json:
        _emit_json({"findings": [f.to_dict() for f in findings], "domains": [r.cgroup or "global" for r in rankings],
                    "notes": notes})
        return
    if not findings:
        click.echo("no findings")
    for f in findings:
        click.echo(f"[{f.risk:3d}] {f.kind.value}: {f.message}")
    for n in notes:
        click.echo(f"note: {n}")
