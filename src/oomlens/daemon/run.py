"""Wiring: config → :class:`Daemon`, exporter, kernel-log follower, signal handlers. Used by ``oomlens daemon``.

Start-up order matters for the exit codes: the config (13) and its domains (4) are checked first, then the
exporter binds (14), then the loop starts. The daemon lowers nothing and raises nothing of its own
``oom_score_adj``: the service unit sets it (``OOMScoreAdjust=``).
"""

from __future__ import annotations

import signal
from types import FrameType

from oomlens.daemon.alerts import AlertSink
from oomlens.daemon.config import load_config
from oomlens.daemon.kernelwatch import KernelWatch
from oomlens.daemon.loop import Daemon
from oomlens.errors import InputError

__all__ = ["run_daemon"]


def _kernel_source(alerts: AlertSink) -> object | None:
    from oomlens.sources.kernellog import KmsgCursor

    try:
        return KmsgCursor(start="end", keep=False)
    except InputError as e:
        first = str(e)
    from oomlens.sources.journalfollow import JournalFollower

    try:
        src = JournalFollower()
    except InputError as e:
        alerts.log(f"kernel OOM kills will not be reported: {first}; {e}", "warning", hint=e.hint)
        return None
    alerts.log(f"following the journal for kernel messages ({first})", "notice")
    return src


def _malloc_frugal() -> None:
    """One glibc malloc arena (M_ARENA_MAX = 1) instead of one per thread: the exporter and kernel-log threads
    would each touch an arena of their own. No effect elsewhere (musl, or no libc found)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(ctypes.c_int(-8), ctypes.c_int(1))  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def run_daemon(config_path: str, *, check: bool = False, proc_root: str = "/proc",
               cgroup_root: str = "/sys/fs/cgroup") -> int:
    _malloc_frugal()
    cfg = load_config(config_path)
    alerts = AlertSink(cfg.alert_exec)
    daemon = Daemon(cfg, alerts=alerts, proc_root=proc_root, cgroup_root=cgroup_root)
    if check:
        daemon.tick()
        for d in daemon.box.current.domains:
            alerts.log("domain", domain=d.name, headroom=d.headroom, warn_bytes=d.warn_bytes, kill_bytes=d.kill_bytes,
                       victim=d.victim.pid if d.victim else None, error=d.error)
        return 0
    exporter = None
    addr = cfg.listen_addr
    if addr is not None:
        from oomlens.daemon.exporter import Exporter

        exporter = Exporter(daemon.box)
        exporter.start(*addr)
        daemon.scan_observers.append(exporter.scan_duration.observe)
    source = _kernel_source(alerts)
    watch = KernelWatch(source, daemon.on_kernel_event, daemon.on_kernel_gap) if source is not None else None

    def on_hup(_sig: int, _frame: FrameType | None) -> None:
        daemon.hup = True
        daemon.wake.set()

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        daemon.stop()

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if watch is not None:
        watch.start()
    alerts.log("started", config=cfg.path, domains=[w.name for w in daemon.watched],
               exporter=f"{addr[0]}:{exporter.port}" if exporter and addr else None,
               kill=cfg.action.kill, dry_run=cfg.action.dry_run, interval=cfg.interval, scan_interval=cfg.scan_interval)
    try:
        daemon.run()
    finally:
        if watch is not None:
            watch.stop()
        if exporter is not None:
            exporter.stop()
        daemon.close()
        alerts.close()
        alerts.log("stopped")
    return 0
