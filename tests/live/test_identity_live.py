"""Process identity and oom_score_adj writes on real processes this test starts (this host: root without
CAP_SYS_RESOURCE, so raising works and lowering below oom_score_adj_min is refused)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from oomlens.errors import AdjustDenied, NoSuchProcess
from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.procfs import CAP_SYS_RESOURCE, ProcFS

pytestmark = pytest.mark.live


def _have_cap_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield p
    finally:
        p.kill()
        p.wait()


def test_live_identity_has_pidfd_and_signals_through_it(child) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS()
    with ProcessIdentity.capture(child.pid, procfs) as ident:
        assert ident.pidfd is not None
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            assert ident.start_time == int(f.read().rsplit(b")", 1)[1].split()[19])
        ident.verify(procfs)
        ident.send_signal(signal.SIGTERM, procfs)
        assert child.wait(timeout=10) == -signal.SIGTERM
        # exited and reaped: the pid may be anyone's now; neither a check nor a signal goes through
        with pytest.raises(NoSuchProcess):
            ident.verify(procfs)
        with pytest.raises(NoSuchProcess):
            ident.send_signal(signal.SIGKILL, procfs)


def test_live_raise_is_written_and_read_back(child) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS()
    with ProcessIdentity.capture(child.pid, procfs) as ident:
        before = procfs.read_oom_score_adj(child.pid)
        w = procfs.write_oom_score_adj(ident, 700)
        assert (w.before, w.after) == (before, 700)
        with open(f"/proc/{child.pid}/oom_score_adj") as f:
            assert f.read() == "700\n"
        # legacy oom_adj: 15 is stored as 1000 (raising: allowed)
        w = procfs.write_oom_adj(ident, 15)
        assert w.after == 1000 and procfs.read_oom_adj(child.pid) == 15


def test_live_lowering_below_min_is_refused_and_nothing_changes(child) -> None:  # type: ignore[no-untyped-def]
    if _have_cap_sys_resource():
        pytest.skip("this process has CAP_SYS_RESOURCE: lowering is allowed (the VM tests cover it)")
    procfs = ProcFS()
    with ProcessIdentity.capture(child.pid, procfs) as ident:
        procfs.write_oom_score_adj(ident, 500)
        # oom_score_adj_min is inherited from us (0 here unless a privileged writer set it); lowering to 400 is
        # allowed when min <= 400, -1000 is below any min a capability-less writer could have set
        with pytest.raises(AdjustDenied) as info:
            procfs.write_oom_score_adj(ident, -1000)
        assert "CAP_SYS_RESOURCE" in str(info.value) and "OOMScoreAdjust=" in (info.value.hint or "")
        assert procfs.read_oom_score_adj(child.pid) == 500
        # through legacy oom_adj, any lowering below the current value is refused
        with pytest.raises(AdjustDenied):
            procfs.write_oom_adj(ident, 0)
        assert procfs.read_oom_score_adj(child.pid) == 500
