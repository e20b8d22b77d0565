"""Process identity over a fake /proc: a pid whose start time changed between the look-up and the write is
never written (the PID-reuse case), and a process that vanished is reported as gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from proc_builders import FakeTask, stat_bytes

from oomlens.errors import NoSuchProcess, ProcessReplaced
from oomlens.sources import procfs as procfs_mod
from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.procfs import ProcFS


def _reuse_pid(root: Path, pid: int, starttime: int, name: str = "intruder") -> None:
    """The process exited and another one got its pid: same pid, new start time, new comm."""
    (root / str(pid) / "stat").write_bytes(stat_bytes(FakeTask(pid=pid, name=name, starttime=starttime)))


def test_capture_reads_start_time_field_22(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=40, name="db", starttime=123456)])
    ident = ProcessIdentity.capture(40, ProcFS(str(root)))
    assert (ident.pid, ident.start_time, ident.comm, ident.pidfd) == (40, 123456, "db", None)
    ident.verify(ProcFS(str(root)))  # unchanged: no error


def test_reused_pid_is_not_written(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=41, name="db", starttime=5000, adj=0)])
    p = ProcFS(str(root))
    ident = ProcessIdentity.capture(41, p)  # matched here...
    _reuse_pid(root, 41, 9000)  # ...the process exits, another takes pid 41...
    with pytest.raises(ProcessReplaced) as info:
        p.write_oom_score_adj(ident, 500)  # ...and the write must not reach it
    assert (root / "41" / "oom_score_adj").read_text() == "0\n"
    assert "nothing was changed" in str(info.value) and info.value.hint
    assert not ident.is_current(p)


def test_pid_reused_between_open_and_write_is_not_written(make_proc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The identity check runs after the file is opened: a reuse that happens just before the check is caught.
    root = make_proc([FakeTask(pid=42, name="db", starttime=5000, adj=0)])
    p = ProcFS(str(root))
    ident = ProcessIdentity.capture(42, p)
    real_open = os.open

    def open_then_reuse(path, flags, *a):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, *a)
        if str(path).endswith("/42/oom_score_adj") and flags & os.O_WRONLY:
            _reuse_pid(root, 42, 9000)
        return fd

    monkeypatch.setattr(procfs_mod.os, "open", open_then_reuse)
    with pytest.raises(ProcessReplaced):
        p.write_oom_score_adj(ident, 300)
    monkeypatch.undo()
    assert (root / "42" / "oom_score_adj").read_text() == "0\n"


def test_vanished_process_is_no_such_process(make_proc) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root = make_proc([FakeTask(pid=43, starttime=10)])
    p = ProcFS(str(root))
    ident = ProcessIdentity.capture(43, p)
    shutil.rmtree(root / "43")
    with pytest.raises(NoSuchProcess) as info:
        ident.verify(p)
    assert not isinstance(info.value, ProcessReplaced)
    with pytest.raises(NoSuchProcess):
        ProcessIdentity.capture(43, p)


def test_boot_id_mismatch_is_a_different_process(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=44, starttime=77)])
    (root / "sys" / "kernel" / "random").mkdir(parents=True)
    (root / "sys" / "kernel" / "random" / "boot_id").write_text("aaaa\n")
    p = ProcFS(str(root))
    ident = ProcessIdentity.capture(44, p)
    assert ident.boot_id == "aaaa"
    (root / "sys" / "kernel" / "random" / "boot_id").write_text("bbbb\n")  # rebooted; same pid, same ticks
    with pytest.raises(ProcessReplaced):
        ident.verify(p)


def test_identity_equality_ignores_pidfd(make_proc) -> None:  # type: ignore[no-untyped-def]
    a = ProcessIdentity(7, 100, boot_id="x", comm="a")
    assert a == ProcessIdentity(7, 100, boot_id="x", comm="other")
    assert a != ProcessIdentity(7, 101, boot_id="x") and a != ProcessIdentity(8, 100, boot_id="x")
    assert len({a, ProcessIdentity(7, 100, boot_id="x")}) == 1


def _real_child():  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfds (Linux 5.3+)")
def test_pinned_holds_a_pidfd_only_for_the_same_process(make_proc) -> None:  # type: ignore[no-untyped-def]
    # a fake /proc describing a real child: the start time comes from the fake stat, the pidfd from the kernel
    child = _real_child()
    try:
        root = make_proc([FakeTask(pid=child.pid, name="db", starttime=5000)])
        p = ProcFS(str(root))
        chosen = ProcessIdentity.capture(child.pid, p, use_pidfd=False)
        assert chosen.pidfd is None
        with chosen.pinned(p) as held:
            assert held == chosen and held.pidfd is not None
            assert not held.has_exited(p)
        _reuse_pid(root, child.pid, 9000, name="db")  # same pid and comm, another start time
        with pytest.raises(ProcessReplaced):
            chosen.pinned(p)
    finally:
        child.kill()
        child.wait()
    with pytest.raises(NoSuchProcess):  # reaped: no pidfd can be opened for it (unless the pid is reused already)
        ProcessIdentity(child.pid, 9000, comm="db").pinned(p)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfds (Linux 5.3+)")
def test_has_exited_follows_the_pidfd(make_proc) -> None:  # type: ignore[no-untyped-def]
    child = _real_child()
    root = make_proc([FakeTask(pid=child.pid, name="db", starttime=5000)])
    p = ProcFS(str(root))
    with ProcessIdentity.capture(child.pid, p, use_pidfd=False).pinned(p) as held:
        assert not held.has_exited(p)
        child.kill()
        child.wait()
        assert held.has_exited(p, timeout=5)


def test_has_exited_without_pidfd_is_a_changed_identity(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=45, name="db", starttime=5000)])
    p = ProcFS(str(root))
    ident = ProcessIdentity.capture(45, p)
    assert ident.pidfd is None and not ident.has_exited(p) and not ident.release_memory()
    _reuse_pid(root, 45, 6000)
    assert ident.has_exited(p)
