"""The poll loop, in earlyoom's spirit: cheap checks every tick, the full process scan only when needed.

Each tick, per watched domain:

1. **cheap** (no process scan): global = ``MemAvailable + SwapFree`` against ``MemTotal + SwapTotal`` and
   PSI; memcg = limit − usage of the binding cgroup (itself or a limited ancestor) and its ``memory.pressure``;
2. **decide** whether to scan: never scanned yet, ``scan_interval`` passed, headroom below ``warn_below``
   (then at most every ``interval``), below ``kill_below`` with the action on (every tick), or headroom
   fell by 5% of T since the last scan;
3. **scan** (:func:`oomlens.daemon.scan.scan_domain`) and alert: victim changed, a protected process is the
   victim or in the top K;
4. **act** (opt-in): below ``kill_below``, re-read the headroom after the scan, kill if it is still low.

The sleep is a pure function of headroom (:func:`sleep_time`): ``interval`` while every domain has at least
twice its ``warn_below``, shrinking linearly to ``min_interval`` at ``kill_below`` (or zero headroom).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass

from oomlens.analysis.postmortem import EventAnalysis
from oomlens.analysis.ranking import Ranking
from oomlens.daemon.action import EarlyKiller
from oomlens.daemon.alerts import AlertSink
from oomlens.daemon.config import DaemonConfig, DomainConfig, load_config
from oomlens.daemon.scan import policy_drift, policy_matches, scan_domain
from oomlens.daemon.state import Candidate, DaemonState, DomainState, StateBox
from oomlens.errors import OomLensError
from oomlens.oomreport.model import OomEvent
from oomlens.policy.rules import Intent
from oomlens.sources.cgroupfs import Cgroup, CgroupFS
from oomlens.sources.memstatus import MemStatus, Psi
from oomlens.sources.procfs import ProcFS

__all__ = ["Daemon", "sleep_time"]

DROP_RESCAN = 0.05  # a fall of headroom by this share of T since the last scan triggers a scan


def sleep_time(domains: tuple[DomainState, ...], interval: float, min_interval: float) -> float:
    """How long the loop may sleep: ``interval`` while headroom ≥ 2 × warn everywhere, linear down to
    ``min_interval`` at the kill threshold (or at zero headroom)."""
    best = interval
    for d in domains:
        if d.headroom is None or d.warn_bytes is None:
            continue
        floor = d.kill_bytes or 0
        top = max(2 * d.warn_bytes, floor + 1)
        if d.headroom >= top:
            continue
        frac = max(0.0, (d.headroom - floor) / (top - floor))
        best = min(best, min_interval + frac * (interval - min_interval))
    return max(min_interval, best)


@dataclass
class _Watched:
    cfg: DomainConfig
    cg: Cgroup | None
    name: str
    totalpages: int | None = None
    scanned_at: float | None = None
    scanned_headroom: int | None = None
    victim: Candidate | None = None
    top: tuple[Candidate, ...] = ()
    low: bool = False
    at_risk: frozenset[int] = frozenset()
    error: str | None = None


class Wakeup:
    """Ends the loop's sleep early, when set from another thread or from a signal handler: a self-pipe.

    Not a ``threading.Event``: its ``set()`` takes a lock, and a SIGTERM handler that runs while the loop holds
    that lock (in ``wait`` or ``clear``) would wait for it forever — a daemon that SIGTERM never ends."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self) -> None:
        try:
            os.write(self._w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending (or the loop has ended)

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds (None: until set); True when set (or closed)."""
        if self._r < 0:
            return True
        poller = select.poll()  # not select(): it cannot take a descriptor >= 1024
        poller.register(self._r, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def is_set(self) -> bool:
        return self.wait(0)

    def clear(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        fds = (self._r, self._w)
        self._r = self._w = -1  # first: a late set() from a thread then writes to nothing, not to a reused fd
        for fd in fds:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass


class Daemon:
    def __init__(self, cfg: DaemonConfig, *, alerts: AlertSink, box: StateBox | None = None,
                 proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.alerts = alerts
        self.box = box or StateBox()
        self.clock = clock
        # one reader per scan: a second one halves a big scan's latency but costs CPU (fork, pickling),
        # and the daemon's budget is CPU (bench/bench_daemon.py)
        self.procfs = ProcFS(proc_root, parallel=False)
        self.cgroups = CgroupFS(cgroup_root, procfs=self.procfs)
        self.status = MemStatus(proc_root, self.cgroups)
        self.cfg = cfg
        self.watched = self._resolve(cfg)
        self.killer = EarlyKiller(cfg.action, alerts, self.box.counters, clock, self.procfs)
        self.scan_observers: list[Callable[[float], None]] = []
        self.scans = 0
        self.drift: dict[str, int] = {}
        self.wake = Wakeup()
        self.stopping = False
        self.hup = False

    # -- config ------------------------------------------------------------------------------------
    def _resolve(self, cfg: DaemonConfig) -> list[_Watched]:
        """Resolve every domain's cgroup (CgroupError when one does not exist)."""
        out = []
        for d in cfg.domains:
            if d.is_global:
                out.append(_Watched(d, None, "global"))
            else:
                cg = self.cgroups.resolve(d.path)
                out.append(_Watched(d, cg, cg.path))
        return out

    def reload(self) -> bool:
        """SIGHUP: re-read the config file; on any error keep the running config and say why."""
        try:
            cfg = load_config(self.cfg.path)
            watched = self._resolve(cfg)
        except OomLensError as e:
            self.alerts.log(f"config reload failed, keeping the running config: {e}", "error",
                            hint=e.hint, config=self.cfg.path)
            return False
        old = {w.name: w for w in self.watched}
        for w in watched:  # keep what we know about domains that stay
            prev = old.get(w.name)
            if prev is not None:
                w.totalpages, w.scanned_at, w.victim, w.top = prev.totalpages, prev.scanned_at, prev.victim, prev.top
                w.low, w.at_risk, w.scanned_headroom = prev.low, prev.at_risk, prev.scanned_headroom
        self.cfg, self.watched = cfg, watched
        self.killer.cfg = cfg.action
        if cfg.listen != getattr(self, "_listen_at_start", cfg.listen):
            self.alerts.log("[exporter] listen changed: takes effect at restart", "notice")
        self.alerts.log("config reloaded", config=cfg.path, domains=[w.name for w in watched])
        return True

    # -- one tick ----------------------------------------------------------------------------------
    def _cheap(self, w: _Watched) -> tuple[int | None, int | None, Psi | None]:
        if w.cg is None:
            sysmem = self.status.system()
            return sysmem.headroom, sysmem.total, self.status.psi()
        h = self.status.memcg(w.cg)
        return h.headroom, h.limit, self.status.psi(w.cg)

    def _needs_scan(self, w: _Watched, now: float, headroom: int | None, total: int | None,
                    warn: int | None, kill: int | None) -> bool:
        cfg = self.cfg
        if w.scanned_at is None or now - w.scanned_at >= cfg.scan_interval:
            return True
        if headroom is None:
            return False
        if cfg.action.kill and kill is not None and headroom < kill:
            return not self.killer.busy(w.name)
        since = now - w.scanned_at
        if warn is not None and headroom < warn and since >= cfg.interval:
            return True
        if total and w.scanned_headroom is not None and w.scanned_headroom - headroom >= DROP_RESCAN * total \
                and since >= cfg.interval:
            return True
        return False

    def _scan(self, w: _Watched, now: float, headroom: int | None) -> tuple[Ranking, dict[int, Intent]]:
        """Scan and rank the domain, weigh its processes by the policy, alert; returns the ranking and pid ->
        the effective intent of the rule that matches it."""
        t0 = time.perf_counter()
        ranking = scan_domain(self.procfs, self.cgroups, w.cg)
        policy = self.cfg.policy
        matches = policy_matches(policy, self.procfs, (st.task for st in ranking.tasks))
        took = time.perf_counter() - t0
        self.scans += 1
        for obs in self.scan_observers:
            obs(took)
        intents = {pid: c.rule.effective_intent for pid, c in matches.items()}
        top = []
        for st in ranking.eligible[: self.cfg.top_k]:
            top.append(Candidate(st.task.pid, st.task.name, st.terms.points, st.rank or 0,
                                 intent=intents.get(st.task.pid)))
        v = ranking.victim
        victim = Candidate(v.task.pid, v.task.name, v.terms.points, v.rank or 0, intent=intents.get(v.task.pid)) \
            if v is not None else None
        if w.scanned_at is not None and (victim and victim.pid) != (w.victim and w.victim.pid):
            self.alerts.alert("victim-changed", w.name, pid=victim.pid if victim else None,
                              comm=victim.comm if victim else None, level="notice",
                              detail=(f"next victim now pid {victim.pid} ({victim.comm}), badness {victim.badness}"
                                      if victim else "no eligible victim")
                              + (f"; was pid {w.victim.pid} ({w.victim.comm})" if w.victim else ""))
        elif w.scanned_at is None:
            self.alerts.log("watching", domain=w.name, victim=victim.pid if victim else None,
                            comm=victim.comm if victim else None, totalpages=ranking.totalpages)
        protected = (Intent.PROTECT, Intent.IMMUNE)
        at_risk = frozenset(c.pid for c in top if c.intent in protected)
        for c in top:
            if c.intent in protected and c.pid not in w.at_risk:
                what = "the predicted victim" if victim is not None and c.pid == victim.pid else f"rank {c.rank}"
                rule = matches[c.pid].rule
                self.alerts.alert("protected-at-risk", w.name, pid=c.pid, comm=c.comm, rule=rule.name,
                                  detail=f"process the policy rule {rule.name!r} protects (adj {rule.adj}) is {what} "
                                         f"of the top {self.cfg.top_k} (badness {c.badness})")
        if w.cg is None:
            self.drift = policy_drift(policy, matches)
        w.totalpages, w.scanned_at, w.scanned_headroom, w.victim, w.top, w.at_risk = \
            ranking.totalpages, now, headroom, victim, tuple(top), at_risk
        return ranking, intents

    def tick(self) -> float:
        """One pass over every domain; publishes the state; returns the seconds to sleep."""
        now = self.clock()
        states = []
        for w in self.watched:
            try:
                states.append(self._tick_domain(w, now))
                w.error = None
            except OomLensError as e:
                if w.error != str(e):
                    self.alerts.log(f"domain {w.name}: {e}", "error", hint=e.hint)
                w.error = str(e)
                states.append(DomainState(w.name, None, None, None, None, None, error=str(e)))
        pending = self.killer.tick()
        st = tuple(states)
        self.box.current = DaemonState(st, dict(self.drift), self.scans)
        return self.cfg.min_interval if pending else sleep_time(st, self.cfg.interval, self.cfg.min_interval)

    def _tick_domain(self, w: _Watched, now: float) -> DomainState:
        d = w.cfg
        headroom, total, psi = self._cheap(w)
        warn = d.warn_below.bytes_of(total) if total else (d.warn_below.nbytes if d.warn_below.nbytes else None)
        kill = None
        if d.kill_below is not None:
            kill = d.kill_below.bytes_of(total) if total else d.kill_below.nbytes
        # the ranking is kept only for this tick (the early kill acts on a fresh scan): between scans the
        # daemon holds the top K, not every process
        scanned = self._scan(w, now, headroom) if self._needs_scan(w, now, headroom, total, warn, kill) else None
        if headroom is not None and warn is not None:
            if headroom < warn and not w.low:
                w.low = True
                self.alerts.alert("low-headroom", w.name, pid=w.victim.pid if w.victim else None,
                                  comm=w.victim.comm if w.victim else None,
                                  detail=f"headroom {headroom} bytes below warn_below {d.warn_below} ({warn} bytes)"
                                  + (f"; psi some avg10 {psi.some_avg10}" if psi else ""))
            elif headroom >= warn * 1.05 and w.low:
                w.low = False
                self.alerts.log("headroom recovered", "notice", domain=w.name, headroom=headroom)
        if (self.cfg.action.kill and kill is not None and headroom is not None and headroom < kill
                and scanned is not None and not self.killer.busy(w.name)):
            again, _, _ = self._cheap(w)  # earlyoom re-checks memory after the scan, before acting
            if again is not None and again < kill:
                self.killer.act(w.name, scanned[0], scanned[1], again)
        return DomainState(w.name, headroom, total, w.totalpages, warn, kill, psi, w.victim, w.top, w.scanned_at)

    # -- kernel OOM kills (called from the kernel-log thread) ----------------------------------------
    def on_kernel_event(self, a: EventAnalysis, ev: OomEvent) -> None:
        domain = ev.oom_memcg if ev.oom_memcg else "global"
        if domain != "global":
            domain = "/" + domain.strip("/")
        comm = ev.victim_name or "?"
        ex = a.explanation
        detail = (f"kernel killed pid {ev.victim_pid} ({comm}); model: {a.verdict}"
                  + (f" ({a.reason})" if a.reason else "")
                  + (f"; model victim pid {a.model_victim.pid} ({a.model_victim.name})" if a.model_victim else "")
                  + (f", badness {ex.victim.badness}" if ex is not None else "")
                  + (f", runner-up {ex.runner_up.name} by {ex.margin}" if ex is not None and ex.runner_up else ""))
        usec = None
        if ev.uptime is not None:
            usec = int(ev.uptime * 1_000_000)
        self.box.counters.kernel_kill(domain, comm, a.verdict)
        self.alerts.alert("kernel-oom-kill", domain, pid=ev.victim_pid, comm=comm, verdict=a.verdict, detail=detail,
                          level="crit", kernel_time=usec and usec / 1e6,
                          model_victim=a.model_victim.pid if a.model_victim else None)
        self.wake.set()  # rescan soon: the ranking changed

    def on_kernel_gap(self, n: int) -> None:
        self.box.counters.lost(n)
        self.alerts.log(f"kernel log gap: about {n} records lost (ring buffer overrun); an OOM report may be "
                        "incomplete", "warning")

    # -- run -----------------------------------------------------------------------------------------
    def run(self) -> None:
        self._listen_at_start = self.cfg.listen
        try:
            while not self.stopping:
                if self.hup:
                    self.hup = False
                    self.reload()
                delay = self.tick()
                self.wake.wait(delay)
                self.wake.clear()
        finally:
            self.killer.close()

    def close(self) -> None:
        """Release the wake-up pipe, once nothing can wake the loop any more (after the kernel watch stopped)."""
        self.wake.close()

    def stop(self) -> None:
        """Ask the loop to end (safe in a signal handler: a flag and a byte on a pipe, no lock)."""
        self.stopping = True
        self.wake.set()
