"""Tests of the self-test harness itself: refusal, cleanup, holders, and locating the right report."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from oomlens.errors import SelftestError
from oomlens.selftest import harness as selftest
from oomlens.selftest.harness import (
    BUILTIN_SCENARIOS,
    Holder,
    HolderProcess,
    KmsgRecord,
    MemcgSandbox,
    Scenario,
    find_oom_report,
    parse_kernel_report,
    provoke,
)
from oomlens.sources.kernellog import KmsgCursor, parse_kmsg_record

from . import reference_predictor

SMOKE_LOG = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "6.18-memcg-v1-smoke.log"


# ---------------------------------------------------------------------------------------- pure

def test_builtin_scenarios_are_well_formed() -> None:
    assert len(BUILTIN_SCENARIOS) >= 8
    names = [s.name for s in BUILTIN_SCENARIOS]
    assert len(set(names)) == len(names)
    for s in BUILTIN_SCENARIOS:
        assert s.notes
        assert sum(h.trigger for h in s.holders) <= 1
        # the designed victim is a holder (its pid is known before the OOM)
        assert s.expected in {h.name for h in s.holders}
        # every holder stays small, so a scenario takes about a second
        assert sum(h.charged_mib for h in s.holders) <= 80


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "x" * 16}, "1-15 characters"),
    ({"name": "has space"}, "1-15 characters"),
    ({"name": "a", "oom_score_adj": -1001}, "-1000..1000"),
    ({"name": "a", "oom_score_adj": 1001}, "-1000..1000"),
    ({"name": "a", "anon_mib": 0.1}, "at least"),
    ({"name": "a", "cgroup": "../escape"}, "sub-cgroup"),
])
def test_holder_rejects_bad_specs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Holder(**kwargs)


def test_scenario_rejects_unknown_victim() -> None:
    with pytest.raises(ValueError, match="not a holder"):
        Scenario("s", (Holder("a"),), expected="b")


def test_refuses_when_not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SelftestError, match="root") as ei:
        MemcgSandbox(str(tmp_path)).__enter__()
    assert "root" in (ei.value.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_plain_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SelftestError, match="not a memory cgroup") as ei:
        with MemcgSandbox(str(tmp_path)):
            pass
    assert "memory" in (ei.value.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_directory_that_only_looks_like_a_cgroup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """mkdir works, but no control files appear: not a cgroupfs; the directory it made is removed."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    with pytest.raises(SelftestError, match="not a cgroup filesystem"):
        with MemcgSandbox(str(tmp_path)):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["memory.limit_in_bytes"]


def test_refuses_a_read_only_hierarchy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")

    def read_only_mkdir(path: str, mode: int = 0o777) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    with pytest.raises(SelftestError, match="Read-only file system") as ei:
        with MemcgSandbox(str(tmp_path)):
            pass
    assert "writable" in (ei.value.hint or "")


def test_kmsg_records_are_parsed_and_unescaped() -> None:
    rec = parse_kmsg_record(b"3,1234,54552251,-;name\\x20with space: Killed process 7 (a\\x5cb)\n SUBSYSTEM=x\n")
    assert rec == KmsgRecord(1234, 54552251, "name with space: Killed process 7 (a\\b)")
    assert rec.line() == "[   54.552251] name with space: Killed process 7 (a\\b)"


def test_parse_kernel_report_reads_the_618_smoke_log() -> None:
    rep = parse_kernel_report(SMOKE_LOG.read_text())
    assert (rep.victim_pid, rep.victim_name, rep.complete) == (2091, "python3", True)
    assert rep.constraint == "CONSTRAINT_MEMCG" and rep.oom_memcg == "/oomlens-smoke"
    assert sorted(rep.tasks) == [2091, 2092, 2093]
    assert rep.tasks[2092] == {"pid": 2092, "uid": 0, "tgid": 2092, "total_vm": 11830, "rss": 11077,
                               "rss_anon": 9408, "rss_file": 1669, "rss_shmem": 0, "pgtables_bytes": 135168,
                               "swapents": 0, "oom_score_adj": 0, "name": "python3"}


def _records(lines: list[str], seq0: int = 0) -> list[KmsgRecord]:
    return [KmsgRecord(seq0 + i, 1_000_000 + i, line) for i, line in enumerate(lines)]


def _smoke_report(pid_map: dict[int, int], memcg: str) -> list[str]:
    out = []
    for line in SMOKE_LOG.read_text().splitlines():
        msg = selftest._TS.sub("", line).replace("/oomlens-smoke", memcg)
        for old, new in pid_map.items():
            msg = msg.replace(str(old), str(new))
        out.append(msg)
    return out


def test_find_oom_report_tells_two_reports_in_a_row_apart() -> None:
    a = _smoke_report({2091: 4101, 2092: 4102, 2093: 4103}, "/sb-a")
    b = _smoke_report({2091: 5101, 2092: 5102, 2093: 5103}, "/sb-b")
    recs = _records(["noise", "oomlens-selftest: provoke /sb-a mark-A", *a, "unrelated kernel line",
                     "oomlens-selftest: provoke /sb-b mark-B", *b])
    ra = find_oom_report(recs, {4101, 4102, 4103}, marker="mark-A", memcg="/sb-a")
    rb = find_oom_report(recs, {5101, 5102, 5103}, marker="mark-B", memcg="/sb-b")
    assert ra is not None and rb is not None
    assert (ra.victim_pid, ra.oom_memcg, sorted(ra.tasks)) == (4101, "/sb-a", [4101, 4102, 4103])
    assert (rb.victim_pid, rb.oom_memcg, sorted(rb.tasks)) == (5101, "/sb-b", [5101, 5102, 5103])
    assert "/sb-a" not in rb.text and "/sb-b" not in ra.text
    assert ra.text.splitlines()[0].endswith("python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, "
                                            "oom_score_adj=0")
    # A's kill came before B's marker, and nothing after a marker is found before it arrives.
    assert find_oom_report(recs, {4101}, marker="mark-B") is None
    assert find_oom_report(recs, {5101}, marker="mark-C") is None
    assert find_oom_report(recs[:-1], {5101, 5102, 5103}, marker="mark-B") is None


def test_find_oom_report_does_not_borrow_a_previous_header() -> None:
    """When our header was ratelimited away, the report is just our kill line (complete=False)."""
    a = _smoke_report({2091: 4101, 2092: 4102, 2093: 4103}, "/sb-a")
    kill_b = "Memory cgroup out of memory: Killed process 5101 (python3) total-vm:1kB, anon-rss:1kB, " \
             "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"
    recs = _records(["oomlens-selftest: provoke /sb-b mark-B", *a, kill_b])
    rb = find_oom_report(recs, {5101}, marker="mark-B", memcg="/sb-b")
    assert rb is not None and (rb.victim_pid, rb.complete, rb.tasks) == (5101, False, {})
    assert rb.text.count("\n") == 0
    # a header naming another memcg is not ours either
    recs = _records(["oomlens-selftest: mark-C", *a[:-1], a[-1].replace("4101", "5101")])
    rc = find_oom_report(recs, {5101}, marker="mark-C", memcg="/sb-b")
    assert rc is not None and not rc.complete


# ---------------------------------------------------------------------------------------- live

def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


@pytest.mark.oracle
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_cleanup_after_an_exception_inside_with(exc: type[BaseException], memcg_oracle: str) -> None:
    with pytest.raises(exc):
        with MemcgSandbox() as sb:
            procs = sb.spawn([Holder("top", anon_mib=2), Holder("nested", anon_mib=1, threads=2, cgroup="x/y"),
                              Holder("file", anon_mib=0, file_mib=1, cgroup="z")])
            paths = [sb.path, sb.cgroup("x"), sb.cgroup("x/y"), sb.cgroup("z")]
            assert sorted(sb.member_pids()) == sorted(hp.pid for hp in procs)
            raise exc("boom")
    assert all(_gone(hp.pid) for hp in procs)
    assert not any(os.path.exists(p) for p in paths)


@pytest.mark.oracle
def test_cleanup_when_a_holder_fails_to_start(memcg_oracle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "_disk_file_dir", lambda: "/nonexistent-oomlens-dir")
    with pytest.raises(SelftestError, match="holder bad did not get ready: .*No such file"):
        with MemcgSandbox() as sb:
            sb.spawn([Holder("good", anon_mib=1), Holder("bad", anon_mib=0, file_mib=1)])
    assert not os.path.exists(sb.path)


@pytest.mark.oracle
def test_holders_hold_what_they_say(memcg_oracle: str) -> None:
    spec = Holder("kinds", anon_mib=3, shmem_mib=2, file_mib=2, pgtable_mib=1, threads=3, oom_score_adj=7,
                  cgroup="child")
    with MemcgSandbox() as sb:
        [hp] = sb.spawn([spec])
        got = hp.status_pages()
        base = got["rss_anon"] - 3 * 256          # the interpreter's own anon pages
        assert 0 < base < 2048
        assert 512 <= got["rss_shmem"] < 512 + 16
        assert 512 <= got["rss_file"] < 512 + 2048          # + the interpreter's mapped files
        assert 256 <= got["pgtables_pages"] < 256 + 64       # one PTE page per 2 MiB read
        assert got["threads"] == 4
        with open(f"/proc/{hp.pid}/comm") as f:
            assert f.read().strip() == "kinds"
        with open(f"/proc/{hp.pid}/oom_score_adj") as f:
            assert f.read().strip() == "7"
        with open(os.path.join(sb.cgroup("child"), "cgroup.procs")) as f:
            assert f.read().split() == [str(hp.pid)]


@pytest.mark.oracle
def test_two_ooms_in_a_row_each_find_their_own_report(memcg_oracle: str) -> None:
    with KmsgCursor() as cursor, MemcgSandbox() as a, MemcgSandbox() as b:
        a.spawn([Holder("a-small", anon_mib=4), Holder("a-big", anon_mib=12)])
        b.spawn([Holder("b-big", anon_mib=16), Holder("b-small", anon_mib=2)])
        a.arm()
        b.arm()
        ra = provoke(a, cursor=cursor)
        rb = provoke(b, cursor=cursor)
        assert (ra.victim_name, rb.victim_name) == ("a-big", "b-big")
        assert ra.report.oom_memcg == a.kernel_path and rb.report.oom_memcg == b.kernel_path
        assert ra.report.complete and rb.report.complete
        for r in (ra, rb):
            # the victim died by SIGKILL; anything else that died was named by a later kill line
            assert r.died[r.victim_pid] == -signal.SIGKILL
            assert set(r.died) <= {r.victim_pid, *r.extra_kills}
            assert r.trigger_outcome is None or r.trigger_outcome.startswith("killed ")
        assert set(ra.report.tasks) == set(a.pid_names()) and set(rb.report.tasks) == set(b.pid_names())
        # Both reports are in the shared cursor: asking by pid picks each one, not the other.
        again_a = find_oom_report(cursor.records, frozenset(a.pid_names()), memcg=a.kernel_path)
        again_b = find_oom_report(cursor.records, frozenset(b.pid_names()), memcg=b.kernel_path)
        assert again_a is not None and again_b is not None
        assert again_a.text == ra.report.text and again_b.text == rb.report.text
        assert a.kernel_path not in rb.report.text
        # After its kill the limit is lifted: the survivors stay alive.
        assert a.limit_bytes() is None
        assert all(hp.returncode is None for hp in a.procs if hp.pid not in {ra.victim_pid, *ra.extra_kills})


@pytest.mark.oracle
def test_sweep_removes_empty_sandboxes_of_dead_harnesses(memcg_oracle: str) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = os.path.join(memcg_oracle, f"{selftest.SANDBOX_PREFIX}{dead.pid}-1")
    os.mkdir(stale)
    os.mkdir(os.path.join(stale, "child"))
    try:
        assert stale in selftest.sweep_stale(memcg_oracle)
        assert not os.path.exists(stale)
    finally:
        for p in (os.path.join(stale, "child"), stale):
            if os.path.isdir(p):
                os.rmdir(p)


@pytest.mark.oracle
def test_a_killed_harness_leaves_holders_that_exit_and_cgroups_that_are_swept(memcg_oracle: str) -> None:
    code = ("import time; from oomlens.selftest.harness import Holder, MemcgSandbox\n"
            "sb = MemcgSandbox(); sb.create(); [hp] = sb.spawn([Holder('orphan', anon_mib=1, cgroup='c')])\n"
            "print(sb.path, hp.pid, flush=True); time.sleep(60)\n")
    harness = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    with harness:
        path, pid = harness.stdout.readline().split()  # type: ignore[union-attr]
        harness.kill()
    try:
        # the orphaned holder sees EOF on its stdin and exits by itself; its cgroup empties
        deadline = time.monotonic() + 10
        while Path(path, "c", "cgroup.procs").read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Path(path, "c", "cgroup.procs").read_text().split() == []
        assert path in selftest.sweep_stale(memcg_oracle)
        assert not os.path.exists(path)
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(int(pid), signal.SIGKILL)     # our own grandchild; only if it failed to exit
        for d in (os.path.join(path, "c"), path):
            if os.path.isdir(d):
                selftest._rmdir(d, timeout=5)


@pytest.mark.oracle
def test_run_selftest_defaults_to_oomlens_api(memcg_oracle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def predict(cgroup: str) -> int:
        calls.append(cgroup)
        return reference_predictor.predict(cgroup)

    monkeypatch.setattr(selftest, "_oomlens_predict", predict)
    progress = []
    [res] = selftest.run_selftest(scenarios=[BUILTIN_SCENARIOS[0]], progress=progress.append)
    assert calls == [res.cgroup]
    assert res.agrees and res.as_designed and res.report_complete, res.summary()
    assert res.scenario is BUILTIN_SCENARIOS[0]
    assert progress == [f"[1/1] {BUILTIN_SCENARIOS[0].name}: agree: predicted {res.expected}[{res.predicted_pid}], "
                        f"kernel killed {res.expected}[{res.kernel_victim_pid}]"]
    assert res.to_dict()["kernel_holder"] == BUILTIN_SCENARIOS[0].expected


@pytest.mark.parametrize("short, ok", [(0, True), (selftest.RSS_LAG_PAGES, True), (selftest.RSS_LAG_PAGES + 1, False)])
def test_holder_check_tolerates_the_split_rss_counter_lag(short: int, ok: bool) -> None:
    # Up to 6.1 a holder's /proc RssShmem was seen 66 pages short of its 36 MiB (counters folded every 64 events).
    spec = Holder("shm36", anon_mib=1, shmem_mib=36)
    want = spec.expected_pages()
    got = dict(want, rss_shmem=want["rss_shmem"] - short, swapents=0, threads=1)
    hp = types.SimpleNamespace(spec=spec, name=spec.name, status_pages=lambda: got)
    if ok:
        MemcgSandbox._check_holder(hp)  # type: ignore[arg-type]
    else:
        with pytest.raises(SelftestError, match="rss_shmem"):
            MemcgSandbox._check_holder(hp)  # type: ignore[arg-type]


def test_send_to_a_holder_that_exited_says_why() -> None:
    # a holder that died (ENOMEM writing to its pipe, a crash) used to surface as a bare BrokenPipeError
    code = "import sys; sys.stderr.write('holder gone: ENOMEM'); sys.exit(3)"
    popen = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    popen.wait(10)
    hp = HolderProcess(Holder("gone", anon_mib=1.0), popen, "/nonexistent")
    try:
        with pytest.raises(SelftestError, match=r"exited with status 3 before it was told b'g': holder gone: ENOMEM"):
            hp.send(b"g")
    finally:
        hp.reap(5)
