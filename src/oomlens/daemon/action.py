"""Opt-in early action: kill a domain's model victim before the kernel has to, respecting the policy.

Never chosen: init (pid 1), kernel threads, tasks the model deems ineligible (``oom_score_adj`` -1000,
no mm, ...), this daemon itself, and processes whose policy rule (``oomlens.policy``) is ``protect`` or
``immune`` (an ``adj = N`` rule counts by its value: see ``Rule.effective_intent``). Among the others the
kernel's kill order decides, except that ``prefer`` matches go first.

Signalling (:class:`oomlens.sources.identity.ProcessIdentity`): the identity (pid, start time) is taken
when the victim is chosen (and its comm checked against the scan's); then :meth:`~ProcessIdentity.pinned`
opens a pidfd and re-reads the start time through it, so a reused pid is never signalled, and every signal
goes through that pidfd. Without pidfds (kernel before 5.3, or a ``/proc`` that is not the live one) the
daemon refuses to kill and says so. SIGTERM first; SIGKILL when the process is still there after ``grace``,
followed by ``process_mrelease`` (Linux 5.15+) so its memory comes back at once.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from oomlens.analysis.ranking import Ranking, ScoredTask
from oomlens.daemon.alerts import AlertSink
from oomlens.daemon.config import ActionConfig
from oomlens.daemon.state import Counters
from oomlens.errors import NoSuchProcess, ProcessError, ProcessReplaced, ProcParseError
from oomlens.policy.rules import Intent
from oomlens.sources.identity import ProcessIdentity, pidfds_available
from oomlens.sources.procfs import ProcFS

__all__ = ["EarlyKiller", "choose_victim"]

GIVE_UP_AFTER = 10.0  # seconds after SIGKILL: stop watching (a D-state process; logged)


def choose_victim(ranking: Ranking, intents: Mapping[int, Intent], *, self_pid: int | None = None) -> ScoredTask | None:
    """The task the daemon would kill in this domain (see the module docstring), or None. ``intents``: pid ->
    the intent of the policy rule that matches it (:meth:`oomlens.policy.rules.Rule.effective_intent`)."""
    me = os.getpid() if self_pid is None else self_pid
    preferred: ScoredTask | None = None
    first: ScoredTask | None = None
    for st in ranking.tasks:  # kill order, victim first
        t = st.task
        if not st.eligible or t.pid in (1, me) or t.is_kthread or t.is_global_init or t.oom_score_adj == -1000:
            continue
        intent = intents.get(t.pid)
        if intent in (Intent.PROTECT, Intent.IMMUNE):
            continue
        if intent is Intent.PREFER and preferred is None:
            preferred = st
        if first is None:
            first = st
    return preferred or first


@dataclass
class _Pending:
    domain: str
    proc: ProcessIdentity  # holds the pidfd
    deadline: float
    killed_at: float | None = None

    @property
    def label(self) -> str:
        return f"pid {self.proc.pid} ({self.proc.comm})"


class EarlyKiller:
    def __init__(self, cfg: ActionConfig, alerts: AlertSink, counters: Counters, clock: Callable[[], float],
                 procfs: ProcFS, *, use_pidfd: bool | None = None) -> None:
        """``use_pidfd`` None: when ``procfs`` is the live ``/proc`` (tests force it over a fake one that
        describes real processes)."""
        self.cfg = cfg
        self.alerts = alerts
        self.counters = counters
        self.clock = clock
        self.procfs = procfs
        self.use_pidfd = pidfds_available(procfs) if use_pidfd is None else use_pidfd
        self.pending: dict[str, _Pending] = {}

    def busy(self, domain: str) -> bool:
        return domain in self.pending

    def act(self, domain: str, ranking: Ranking, intents: Mapping[int, Intent], headroom: int | None) -> bool:
        """Kill the domain's victim (one at a time per domain). True when a signal was sent (or would be: dry run)."""
        if domain in self.pending:
            return False
        st = choose_victim(ranking, intents)
        if st is None:
            self.alerts.alert("early-kill", domain, verdict="no-candidate", level="error",
                              detail="headroom below kill_below but every candidate is protected or ineligible")
            return False
        t = st.task
        why = (f"headroom {headroom} bytes below kill_below; model victim pid {t.pid} ({t.name}), "
               f"badness {st.points}, rank {st.rank}")
        try:
            chosen = ProcessIdentity.capture(t.pid, self.procfs, use_pidfd=False)
        except (ProcessError, ProcParseError):
            return False  # gone already: the next tick re-scans
        if chosen.comm != t.name:
            self.alerts.log(f"early kill skipped: pid {t.pid} is now {chosen.comm!r}, not the scanned {t.name!r}",
                            "notice", domain=domain)
            return False
        if self.cfg.dry_run:
            self.alerts.alert("early-kill", domain, pid=t.pid, comm=t.name, verdict="dry-run", detail=why)
            return True
        if not self.use_pidfd:
            self.alerts.alert("early-kill", domain, pid=t.pid, comm=t.name, verdict="unsupported", level="error",
                              detail=why + "; not signalled: early kill needs pidfds (Linux 5.3+, the live /proc) "
                              "so that a reused pid is never hit")
            return False
        try:
            proc = chosen.pinned(self.procfs)
        except ProcessReplaced as e:
            self.alerts.log(f"early kill skipped: {e}", "notice", domain=domain)
            return False
        except NoSuchProcess:
            return False
        except (ProcessError, ProcParseError) as e:
            self.alerts.log(f"early kill skipped: {e}", "error", domain=domain, hint=e.hint)
            return False
        if self.cfg.grace > 0:
            sig, killed_at = signal.SIGTERM, None
        else:
            sig, killed_at = signal.SIGKILL, self.clock()
        if not self._signal(domain, proc, sig):
            proc.close()
            return False
        self.counters.early_kill(domain, t.name)
        self.alerts.alert("early-kill", domain, pid=t.pid, comm=t.name, verdict=signal.Signals(sig).name,
                          detail=why + (f"; SIGKILL after {self.cfg.grace:g}s" if sig == signal.SIGTERM else ""),
                          level="crit")
        self.pending[domain] = _Pending(domain, proc, self.clock() + self.cfg.grace, killed_at)
        return True

    def _signal(self, domain: str, proc: ProcessIdentity, sig: int) -> bool:
        """Through the pidfd; SIGKILL is followed by process_mrelease. False when the process is gone or may
        not be signalled (said)."""
        try:
            proc.send_signal(sig, self.procfs)
        except NoSuchProcess:
            return False
        except ProcessError as e:
            self.alerts.log(f"early kill failed: {e}", "error", domain=domain, hint=e.hint)
            return False
        if sig == signal.SIGKILL:
            proc.release_memory()
        return True

    def tick(self) -> bool:
        """Escalate and forget finished kills; True while any is pending."""
        now = self.clock()
        for domain, p in list(self.pending.items()):
            if p.proc.has_exited(self.procfs):
                self._done(domain)
            elif p.killed_at is None and now >= p.deadline:
                self._signal(domain, p.proc, signal.SIGKILL)
                p.killed_at = now
                self.alerts.log(f"{p.label} survived SIGTERM for {self.cfg.grace:g}s: SIGKILL", "warning",
                                domain=domain)
            elif p.killed_at is not None and now - p.killed_at > GIVE_UP_AFTER:
                self.alerts.log(f"{p.label} still there {GIVE_UP_AFTER:g}s after SIGKILL", "error", domain=domain)
                self._done(domain)
        return bool(self.pending)

    def _done(self, domain: str) -> None:
        self.pending.pop(domain).proc.close()

    def close(self) -> None:
        for d in list(self.pending):
            self._done(d)
