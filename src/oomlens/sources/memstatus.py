"""Cheap memory status reads for the daemon's fast path: no process scan.

* :meth:`MemStatus.system`: ``MemTotal``, ``MemAvailable``, ``SwapTotal``, ``SwapFree`` from one read of
  ``/proc/meminfo``;
* :meth:`MemStatus.psi`: PSI ``some``/``full`` ``avg10`` from ``/proc/pressure/memory`` or a cgroup-v2
  ``memory.pressure`` (None where the kernel has no PSI, or cgroup v1);
* :meth:`MemStatus.memcg`: a memory cgroup's usage against its limit, for the cgroup itself and each
  ancestor (with hierarchical accounting an ancestor's limit can be the one that binds), v1 and v2.

Each read is one ``open``/``read``/``close`` of a small file (tens of microseconds). OS errors become
:class:`oomlens.errors.CgroupError` / :class:`oomlens.errors.ProcParseError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from oomlens.errors import CgroupError, ProcParseError
from oomlens.sources.cgroupfs import Cgroup, CgroupFS

__all__ = ["Headroom", "MemStatus", "Psi", "SystemMemory", "parse_psi"]

_V1_UNLIMITED = 1 << 62  # anything at or above this is the page-counter maximum


@dataclass(frozen=True, slots=True)
class SystemMemory:
    """From /proc/meminfo, in bytes."""

    mem_total: int
    mem_available: int
    swap_total: int
    swap_free: int

    @property
    def headroom(self) -> int:
        """What can still be allocated before the global OOM killer runs: MemAvailable + SwapFree."""
        return self.mem_available + self.swap_free

    @property
    def total(self) -> int:
        """The global OOM domain's size T (RAM + swap), in bytes."""
        return self.mem_total + self.swap_total


@dataclass(frozen=True, slots=True)
class Psi:
    """Memory pressure stall information: the share of the last 10 s (percent) that some / all tasks stalled."""

    some_avg10: float
    full_avg10: float


@dataclass(frozen=True, slots=True)
class Headroom:
    """A memcg domain's headroom: ``limit - usage`` of the binding cgroup (the smallest over the cgroup and
    its limited ancestors), in bytes; ``limit`` is that cgroup's limit (None: no limit anywhere up the tree)."""

    usage: int
    limit: int | None
    binding: str | None

    @property
    def headroom(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.usage)


def parse_psi(text: str, path: str = "memory.pressure") -> Psi:
    """``some avg10=0.00 avg60=... total=N`` / ``full avg10=...`` -> :class:`Psi`."""
    vals: dict[str, float] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for field in rest.split():
            key, _, value = field.partition("=")
            if key == "avg10":
                try:
                    vals[kind] = float(value)
                except ValueError:
                    raise ProcParseError(path, line) from None
    if "some" not in vals:
        raise ProcParseError(path, text[:80])
    return Psi(vals["some"], vals.get("full", 0.0))


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 8192)
    finally:
        os.close(fd)


class MemStatus:
    """Cheap status reader over ``proc_root`` and a :class:`CgroupFS`."""

    def __init__(self, proc_root: str = "/proc", cgroups: CgroupFS | None = None) -> None:
        self.proc_root = proc_root
        self.cgroups = cgroups
        self._meminfo = f"{proc_root}/meminfo"
        self._psi = f"{proc_root}/pressure/memory"
        self._psi_missing = False
        self._chains: dict[str, tuple[tuple[str, str], ...]] = {}

    def system(self) -> SystemMemory:
        try:
            data = _read(self._meminfo)
        except OSError as e:
            raise ProcParseError(self._meminfo, None, f"cannot read {self._meminfo}: {e.strerror}") from None
        want = {b"MemTotal:": 0, b"MemAvailable:": 0, b"SwapTotal:": 0, b"SwapFree:": 0}
        found = 0
        for line in data.split(b"\n"):
            key, _, rest = line.partition(b" ")
            if key in want:
                want[key] = int(rest.split()[0]) * 1024
                found += 1
                if found == 4:
                    break
        if found < 4:
            # MemAvailable exists since 3.14; before it the daemon cannot judge headroom cheaply
            raise ProcParseError(self._meminfo, None, f"{self._meminfo} lacks MemAvailable/SwapFree (kernel < 3.14?)")
        return SystemMemory(want[b"MemTotal:"], want[b"MemAvailable:"], want[b"SwapTotal:"], want[b"SwapFree:"])

    def psi(self, cg: Cgroup | None = None) -> Psi | None:
        """Global PSI (``cg`` None) or a v2 cgroup's ``memory.pressure``; None where there is none."""
        if cg is None:
            if self._psi_missing:
                return None
            path = self._psi
        elif cg.version == 2:
            path = f"{cg.fs_path}/memory.pressure"
        else:
            return None
        try:
            text = _read(path).decode("ascii", "replace")
        except OSError:  # no PSI (CONFIG_PSI=n, psi=0 on the command line): stop asking
            if cg is None:
                self._psi_missing = True
            return None
        return parse_psi(text, path)

    def _chain(self, cg: Cgroup) -> tuple[tuple[str, str], ...]:
        """(usage file, limit file) of the cgroup and every ancestor below the root, cached per cgroup."""
        chain = self._chains.get(cg.fs_path)
        if chain is None:
            usage, limit = (("memory.usage_in_bytes", "memory.limit_in_bytes") if cg.version == 1
                            else ("memory.current", "memory.max"))
            dirs = [cg.fs_path]
            if self.cgroups is not None:
                dirs += [a.fs_path for a in self.cgroups.ancestors(cg) if not a.is_root]
            chain = tuple((f"{d}/{usage}", f"{d}/{limit}") for d in dirs)
            self._chains[cg.fs_path] = chain
        return chain

    def memcg(self, cg: Cgroup) -> Headroom:
        """Usage and limit of the binding cgroup among ``cg`` and its ancestors (see :class:`Headroom`)."""
        best: Headroom | None = None
        own_usage: int | None = None
        for usage_path, limit_path in self._chain(cg):
            try:
                usage = int(_read(usage_path))
                raw = _read(limit_path).strip()
            except FileNotFoundError:
                if own_usage is None:
                    raise CgroupError(cg.path, f"cgroup {cg.path} is gone ({usage_path})",
                                      hint="the watched cgroup was removed; fix [[domain]] path and reload (SIGHUP)") from None
                continue
            except OSError as e:
                raise CgroupError(usage_path, f"cannot read {usage_path}: {e.strerror}") from None
            except ValueError:
                raise CgroupError(usage_path, f"cannot parse {usage_path}") from None
            if own_usage is None:
                own_usage = usage
            if raw == b"max" or int(raw) >= _V1_UNLIMITED:
                continue
            h = Headroom(usage, int(raw), os.path.dirname(usage_path))
            if best is None or (h.headroom or 0) < (best.headroom or 0):
                best = h
        return best or Headroom(own_usage or 0, None, None)
