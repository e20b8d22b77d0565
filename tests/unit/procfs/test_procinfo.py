"""Lazy per-process extras and what cgroup paths say (systemd units, containers, Kubernetes pods)."""

from __future__ import annotations

import pytest
from proc_builders import FakeTask

from oomlens.sources.procfs import ProcFS
from oomlens.sources.procinfo import Container, ProcessInfo, QosClass, SystemdUnit, container_of, systemd_unit_of

CID = "4f66ad2a3e1b9b1b5b4f0a6cfa7fd2d5a6f0e3b3c1d8f8b7a6e5d4c3b2a19080"
UID = "0b5a3a9c-1f2e-4d4d-9a55-0a1b2c3d4e5f"


@pytest.mark.parametrize(("path", "unit"), [
    ("/system.slice/nginx.service", SystemdUnit("nginx.service")),
    ("/system.slice/postgresql@15-main.service/worker", SystemdUnit("postgresql@15-main.service")),
    ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
     SystemdUnit("foo.service", "user@1000.service")),
    ("/user.slice/user-1000.slice/user@1000.service/init.scope", SystemdUnit("init.scope", "user@1000.service")),
    ("/user.slice/user-1000.slice/user@1000.service", SystemdUnit("user@1000.service")),
    ("/user.slice/user-1000.slice/session-3.scope", SystemdUnit("session-3.scope")),
    ("/system.slice/docker-" + CID + ".scope", SystemdUnit("docker-" + CID + ".scope")),
    ("/user.slice", None),
    ("/", None),
    ("/mygroup/sub", None),
])
def test_systemd_unit_of(path: str, unit: SystemdUnit | None) -> None:
    assert systemd_unit_of(path) == unit


@pytest.mark.parametrize(("path", "want"), [
    ("/docker/" + CID, Container("docker", CID)),
    ("/system.slice/docker-" + CID + ".scope", Container("docker", CID)),
    ("/system.slice/containerd.service/kubepods-burstable-pod" + UID.replace("-", "_") + ".slice:cri-containerd:" + CID,
     None),  # containerd's own cgroup-path notation is not a cgroup path: not guessed
    ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID.replace("-", "_") + ".slice/cri-containerd-"
     + CID + ".scope", Container("containerd", CID, UID, QosClass.BURSTABLE)),
    ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + UID.replace("-", "_") + ".slice/crio-"
     + CID + ".scope", Container("cri-o", CID, UID, QosClass.BESTEFFORT)),
    ("/kubepods.slice/kubepods-pod" + UID.replace("-", "_") + ".slice/cri-containerd-" + CID + ".scope",
     Container("containerd", CID, UID, QosClass.GUARANTEED)),
    ("/kubepods/burstable/pod" + UID + "/" + CID, Container("kubernetes", CID, UID, QosClass.BURSTABLE)),
    ("/kubepods/pod" + UID + "/" + CID, Container("kubernetes", CID, UID, QosClass.GUARANTEED)),
    ("/kubepods/besteffort/pod" + UID + "/" + CID, Container("kubernetes", CID, UID, QosClass.BESTEFFORT)),
    ("/kubepods/burstable", None),
    ("/kubepods.slice", None),
    ("/machine.slice/libpod-" + CID + ".scope", Container("podman", CID)),
    ("/libpod_parent/libpod-" + CID, Container("podman", CID)),
    ("/crio-" + CID, Container("cri-o", CID)),
    ("/system.slice/nginx.service", None),
    ("/docker", None),
])
def test_container_of(path: str, want: Container | None) -> None:
    assert container_of(path) == want


def test_process_info_reads_lazily(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=50, name="java", uid=0,
                               cgroup="12:memory:/system.slice/hbase.service\n0::/system.slice/hbase.service\n")])
    (root / "50" / "cmdline").write_bytes(b"java\0-Xmx4g\0org.apache.hadoop.hbase.regionserver.HRegionServer\0")
    info = ProcessInfo(50, "java", 0, ProcFS(str(root)))
    assert "argv" not in info.__dict__  # nothing read yet
    assert info.argv == ("java", "-Xmx4g", "org.apache.hadoop.hbase.regionserver.HRegionServer")
    assert info.cmdline == "java -Xmx4g org.apache.hadoop.hbase.regionserver.HRegionServer"
    assert info.cgroup == "/system.slice/hbase.service"
    assert info.unit_name() == "hbase.service"
    assert info.container is None
    assert info.exe is None  # no exe link in the fake tree: unknown, not ''
    assert info.user == "root"


def test_process_info_of_vanished_process_is_none(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc([FakeTask(pid=51)])
    info = ProcessInfo(51, "x", 1000, ProcFS(str(root)))
    import shutil

    shutil.rmtree(root / "51")
    assert info.cmdline is None and info.cgroup is None and info.unit is None
