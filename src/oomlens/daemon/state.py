"""What the loop computed last, shared with the exporter: an immutable :class:`DaemonState` swapped as a whole
(a reference assignment is atomic), plus monotonically growing counters under a lock. A scrape reads these;
it never triggers a scan or a read of /proc."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from oomlens.policy.rules import Intent
from oomlens.sources.memstatus import Psi

__all__ = ["Candidate", "Counters", "DaemonState", "DomainState", "StateBox"]


@dataclass(frozen=True, slots=True)
class Candidate:
    pid: int
    comm: str
    badness: int
    rank: int
    start_time: int | None = None
    intent: Intent | None = None
    """The effective intent of the policy rule that matches it (None: no rule)."""


@dataclass(frozen=True, slots=True)
class DomainState:
    name: str                     # "global" or the cgroup path as /proc/PID/cgroup shows it
    headroom: int | None          # bytes; None: no limit anywhere (a memcg domain without one)
    total: int | None             # bytes the thresholds are a share of (the domain's T)
    totalpages: int | None        # the model's T in pages, from the last scan
    warn_bytes: int | None
    kill_bytes: int | None
    psi: Psi | None = None
    victim: Candidate | None = None
    top: tuple[Candidate, ...] = ()
    scanned_at: float | None = None
    error: str | None = None

    @property
    def low(self) -> bool:
        return self.headroom is not None and self.warn_bytes is not None and self.headroom < self.warn_bytes

    @property
    def critical(self) -> bool:
        return self.headroom is not None and self.kill_bytes is not None and self.headroom < self.kill_bytes


@dataclass(frozen=True, slots=True)
class DaemonState:
    domains: tuple[DomainState, ...] = ()
    drift: dict[str, int] = field(default_factory=dict)
    scans: int = 0


class Counters:
    """Counters that only grow (Prometheus ``_total``): kernel OOM kills, early kills, lost log records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kernel_oom_kills: dict[tuple[str, str, str], int] = {}
        self.early_kills: dict[tuple[str, str], int] = {}
        self.kmsg_lost = 0

    def kernel_kill(self, domain: str, comm: str, verdict: str) -> None:
        with self._lock:
            k = (domain, comm, verdict)
            self.kernel_oom_kills[k] = self.kernel_oom_kills.get(k, 0) + 1

    def early_kill(self, domain: str, comm: str) -> None:
        with self._lock:
            k = (domain, comm)
            self.early_kills[k] = self.early_kills.get(k, 0) + 1

    def lost(self, n: int) -> None:
        with self._lock:
            self.kmsg_lost += n

    def copy(self) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int], int]:
        with self._lock:
            return dict(self.kernel_oom_kills), dict(self.early_kills), self.kmsg_lost


class StateBox:
    def __init__(self) -> None:
        self.current = DaemonState()
        self.counters = Counters()
