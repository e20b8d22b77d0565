"""The apply step over a fake /proc: a process matched by a rule whose pid is taken by another process before
the write is not written; a matched process that is still itself is."""

from __future__ import annotations

from proc_builders import FakeTask, stat_bytes

from oomlens.policy.engine import plan
from oomlens.policy.rules import parse_policy
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import ProcFS
from oomlens.sources.protect import ApplyStatus, apply_adj, process_infos

POLICY = parse_policy('[[rule]]\nname = "batch"\nmatch = { comm = "batch" }\nintent = "prefer"\n')


def test_pid_reused_between_match_and_write_is_not_written(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=1, name="init", uid=0), FakeTask(pid=60, name="batch", starttime=5000),
                      FakeTask(pid=61, name="batch", starttime=5100)])
    procfs = ProcFS(str(root))
    infos = process_infos(procfs, take_snapshot(procfs))
    changes = plan(POLICY, infos, {i.pid: i.oom_score_adj for i in infos})
    assert [(c.pid, c.intended) for c in changes] == [(60, 500), (61, 500)]
    # pid 60 exits; a new process ("batch" too: a name is no identity) gets pid 60
    (root / "60" / "stat").write_bytes(stat_bytes(FakeTask(pid=60, name="batch", starttime=9999)))
    idents = {i.pid: i.identity for i in infos}
    out = {c.pid: apply_adj(procfs, idents[c.pid], c.intended) for c in changes}  # type: ignore[arg-type]
    assert out[60].status is ApplyStatus.REPLACED and not out[60].ok
    assert (root / "60" / "oom_score_adj").read_text() == "0\n"
    assert out[61].status is ApplyStatus.APPLIED and (out[61].before, out[61].after) == (0, 500)
    assert (root / "61" / "oom_score_adj").read_text().strip() == "500"
    # a second run finds 61 already there and writes nothing
    again = apply_adj(procfs, idents[61], 500)  # type: ignore[arg-type]
    assert again.status is ApplyStatus.UNCHANGED


def test_dry_run_writes_nothing(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=70, name="batch")])
    procfs = ProcFS(str(root))
    [info] = process_infos(procfs, take_snapshot(procfs))
    o = apply_adj(procfs, info.identity, 500, dry_run=True)  # type: ignore[arg-type]
    assert o.status is ApplyStatus.UNCHANGED and o.message == "dry run"
    assert (root / "70" / "oom_score_adj").read_text() == "0\n"
