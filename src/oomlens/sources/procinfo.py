"""Lazy per-process extras for policies and audits, never read on the ``top`` hot path: cmdline, exe,
user name, and what the cgroup path says (the systemd unit; the container runtime and id; the Kubernetes
pod uid and QoS class). The cgroup-path classifiers are pure functions (:func:`systemd_unit_of`,
:func:`container_of`).
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from typing import TYPE_CHECKING

from oomlens.errors import ProcessError, ProcParseError

if TYPE_CHECKING:
    from oomlens.sources.identity import ProcessIdentity
    from oomlens.sources.procfs import ProcFS

__all__ = ["Container", "ProcessInfo", "QosClass", "SystemdUnit", "container_of", "matches_glob", "systemd_unit_of"]


# --- cgroup path classifiers (pure) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemdUnit:
    """The systemd unit a cgroup path belongs to: the deepest ``*.service`` / ``*.scope`` component.
    ``user`` is the ``user@UID.service`` manager for user units (None for system units)."""

    name: str
    user_manager: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_manager is not None


_UNIT_SUFFIXES = (".service", ".scope", ".socket", ".mount", ".swap")


def systemd_unit_of(cgroup_path: str) -> SystemdUnit | None:
    """``/system.slice/nginx.service`` -> nginx.service; ``/user.slice/user-1000.slice/user@1000.service/
    app.slice/foo.service`` -> foo.service (user manager user@1000.service); ``.../session-3.scope`` ->
    session-3.scope. Paths inside a unit (``/system.slice/foo.service/worker``) give the unit. Slices alone
    and ``/`` give None."""
    unit = None
    manager = None
    for part in cgroup_path.strip("/").split("/"):
        if part.endswith(_UNIT_SUFFIXES):
            if part.startswith("user@") and part.endswith(".service"):
                manager = part
            unit = part
    if unit is None:
        return None
    if unit == manager:  # the user manager process itself
        return SystemdUnit(unit, None)
    return SystemdUnit(unit, manager)


class QosClass(enum.Enum):
    GUARANTEED = "guaranteed"
    BURSTABLE = "burstable"
    BESTEFFORT = "besteffort"


@dataclass(frozen=True, slots=True)
class Container:
    """A container recognised from a cgroup path. ``runtime``: docker, containerd, cri-o, podman, or
    ``kubernetes`` when the path is a pod's but names no runtime. ``pod_uid`` and ``qos`` for Kubernetes."""

    runtime: str
    id: str | None
    pod_uid: str | None = None
    qos: QosClass | None = None


_HEX_ID = r"([0-9a-f]{12,64})"
_SCOPE_FORMS = (  # systemd cgroup driver: <prefix>-<id>.scope
    (re.compile(r"^docker-" + _HEX_ID + r"\.scope$"), "docker"),
    (re.compile(r"^cri-containerd-" + _HEX_ID + r"\.scope$"), "containerd"),
    (re.compile(r"^crio-(?:conmon-)?" + _HEX_ID + r"\.scope$"), "cri-o"),
    (re.compile(r"^libpod-(?:conmon-)?" + _HEX_ID + r"\.scope$"), "podman"),
)
_POD = re.compile(r"^(?:kubepods(?:-(?:burstable|besteffort))?-)?pod([0-9a-f_-]{32,36})(?:\.slice)?$")


def container_of(cgroup_path: str) -> Container | None:
    """Container runtime and id, and for Kubernetes the pod uid and QoS class, from a cgroup path.

    Forms: cgroupfs driver ``/docker/<id>``, ``/kubepods/burstable/pod<uid>/<id>``, ``/kubepods/pod<uid>/<id>``
    (Guaranteed pods sit directly under kubepods), ``/libpod_parent/libpod-<id>``, ``/crio-<id>``;
    systemd driver ``/system.slice/docker-<id>.scope``, ``/kubepods.slice/kubepods-besteffort.slice/
    kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope``, ``crio-<id>.scope``,
    ``/machine.slice/libpod-<id>.scope``. The first path component may be a prefix (nested runtimes)."""
    parts = [p for p in cgroup_path.split("/") if p]
    runtime = cid = pod = None
    qos: QosClass | None = None
    for i, part in enumerate(parts):
        if part in ("kubepods", "kubepods.slice"):
            qos = QosClass.GUARANTEED
            runtime = runtime or "kubernetes"
            continue
        if qos is not None and pod is None:
            for q in (QosClass.BURSTABLE, QosClass.BESTEFFORT):
                if part in (q.value, f"kubepods-{q.value}.slice"):
                    qos = q
            m = _POD.match(part)
            if m:
                pod = m.group(1).replace("_", "-")
                continue
        for rx, name in _SCOPE_FORMS:
            m = rx.match(part)
            if m:
                runtime, cid = name, m.group(1)
                break
        else:
            prev = parts[i - 1] if i else ""
            m = re.fullmatch(_HEX_ID, part)
            if m and len(part) == 64:
                if prev == "docker":
                    runtime, cid = "docker", part
                elif pod is not None:
                    cid = part  # cgroupfs driver under a pod: runtime not named in the path
            elif part.startswith("libpod-") and re.fullmatch(_HEX_ID, part[7:]):
                runtime, cid = "podman", part[7:]
            elif part.startswith("crio-") and re.fullmatch(_HEX_ID, part[5:]):
                runtime, cid = "cri-o", part[5:]
    if runtime is None:
        return None
    if runtime == "kubernetes" and pod is None:
        return None  # the kubepods slice itself, or a QoS slice: not a pod
    return Container(runtime, cid, pod, qos if pod is not None else None)


# --- lazy per-process extras -------------------------------------------------------------------------


@dataclass
class ProcessInfo:
    """A process as policies and audits see it. ``comm`` and ``uid`` come with the snapshot; every other
    attribute is read from ``/proc`` the first time it is used (and is None when the process has gone or
    the file cannot be read). Never built on the ``top`` hot path."""

    pid: int
    comm: str
    uid: int
    procfs: ProcFS = field(repr=False)
    oom_score_adj: int = 0
    identity: ProcessIdentity | None = field(default=None, repr=False, compare=False)
    """Captured before any rule looked at the process: a write goes to this process or nowhere."""

    def _read(self, name: str) -> bytes | None:
        try:
            return self.procfs._read(self.pid, name)
        except (ProcessError, ProcParseError):
            return None

    @cached_property
    def argv(self) -> tuple[str, ...] | None:
        raw = self._read("cmdline")
        if raw is None:
            return None
        return tuple(a.decode("utf-8", "backslashreplace") for a in raw.rstrip(b"\0").split(b"\0")) if raw else ()

    @cached_property
    def cmdline(self) -> str | None:
        """argv joined with spaces (empty for kernel threads and zombies)."""
        return None if self.argv is None else " ".join(self.argv)

    @cached_property
    def exe(self) -> str | None:
        try:
            return os.readlink(f"{self.procfs.root}/{self.pid}/exe")
        except OSError:
            return None

    @cached_property
    def user(self) -> str | None:
        import pwd

        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return None

    @cached_property
    def cgroup(self) -> str | None:
        """The memcg path as ``/proc/PID/cgroup`` shows it (the v2 path when there is no v1 memory line)."""
        try:
            cg = self.procfs.read_cgroup_of(self.pid)
        except (ProcessError, ProcParseError):
            return None
        return cg.memcg

    @cached_property
    def unit_path(self) -> str | None:
        """The path systemd sees: the v2 (``0::``) line when there is one, else the memory line."""
        try:
            cg = self.procfs.read_cgroup_of(self.pid)
        except (ProcessError, ProcParseError):
            return None
        return cg.v2 if cg.v2 not in (None, "/") else cg.memcg

    @cached_property
    def unit(self) -> SystemdUnit | None:
        for path in (self.unit_path, self.cgroup):
            if path:
                u = systemd_unit_of(path)
                if u is not None:
                    return u
        return None

    @cached_property
    def container(self) -> Container | None:
        for path in (self.cgroup, self.unit_path):
            if path:
                c = container_of(path)
                if c is not None:
                    return c
        return None

    def unit_name(self) -> str | None:
        return self.unit.name if self.unit is not None else None


def matches_glob(value: str | None, pattern: str) -> bool:
    return value is not None and fnmatchcase(value, pattern)
