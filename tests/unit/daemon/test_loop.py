"""The loop over a fake /proc: cheap checks, scans, alerts, the adaptive sleep, the early-kill choice, and
processes that vanish mid-scan."""

from __future__ import annotations

import io
import json

import proc_builders
from proc_builders import FakeTask

from oomlens.analysis.ranking import rank_tasks
from oomlens.daemon.action import choose_victim
from oomlens.daemon.alerts import AlertSink
from oomlens.daemon.config import parse_config
from oomlens.daemon.loop import Daemon, sleep_time
from oomlens.daemon.state import DomainState
from oomlens.kernel.types import MemInfo, Task
from oomlens.policy.rules import Intent

MEMINFO_LOW = proc_builders.MEMINFO.replace("MemAvailable:   24384936 kB", "MemAvailable:     100000 kB") \
    .replace("SwapFree:        2097152 kB", "SwapFree:              0 kB")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _daemon(tmp_path, tasks, cfg_text='[exporter]\nlisten = ""\n', meminfo=proc_builders.MEMINFO):
    root = proc_builders.make_proc(tmp_path, tasks, meminfo=meminfo)
    out = io.StringIO()
    clock = Clock()
    (tmp_path / "d.toml").write_text(cfg_text)  # for reloads
    cfg = parse_config(cfg_text, str(tmp_path / "d.toml"))
    d = Daemon(cfg, alerts=AlertSink(stream=out), proc_root=str(root), cgroup_root=str(tmp_path / "nocg"), clock=clock)
    return d, out, clock


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in out.getvalue().splitlines()]


TASKS = [FakeTask(1, "init", uid=0), FakeTask(100, "small", rss_anon_kb=10_000),
         FakeTask(200, "big", rss_anon_kb=900_000), FakeTask(300, "mid", rss_anon_kb=300_000)]


def test_first_tick_scans_and_publishes_the_victim_and_top_k(tmp_path) -> None:
    d, out, _ = _daemon(tmp_path, TASKS)
    d.tick()
    (g,) = d.box.current.domains
    assert g.name == "global"
    # fake meminfo: MemAvailable 24384936 kB + SwapFree 2097152 kB
    assert g.headroom == (24384936 + 2097152) * 1024
    assert g.victim is not None and (g.victim.pid, g.victim.comm) == (200, "big")
    assert [c.pid for c in g.top] == [200, 300, 100]
    assert d.scans == 1


def test_scan_cadence_cheap_ticks_do_not_scan(tmp_path) -> None:
    d, _, clock = _daemon(tmp_path, TASKS, 'interval = "1s"\nscan_interval = "30s"\n[exporter]\nlisten = ""\n')
    d.tick()
    for _ in range(10):
        clock.t += 1
        d.tick()
    assert d.scans == 1
    clock.t += 30
    d.tick()
    assert d.scans == 2


def test_process_vanishing_mid_scan_is_skipped(tmp_path) -> None:
    d, _, _ = _daemon(tmp_path, TASKS)
    real = d.procfs.pids
    d.procfs.pids = lambda: real() + [4242]  # type: ignore[method-assign]  # listed, then gone before its read
    import shutil
    orig_iter = d.procfs.iter_tasks

    def iter_tasks(*a, **kw):  # the victim dies between the listing and the read of its files
        shutil.rmtree(tmp_path / "proc" / "200")
        return orig_iter(*a, **kw)

    d.procfs.iter_tasks = iter_tasks  # type: ignore[method-assign]
    d.tick()
    (g,) = d.box.current.domains
    assert g.error is None
    assert g.victim is not None and g.victim.pid == 300
    assert 200 not in [c.pid for c in g.top] and 4242 not in [c.pid for c in g.top]


def test_low_headroom_alerts_once_and_speeds_the_loop_up(tmp_path) -> None:
    d, out, clock = _daemon(tmp_path, TASKS, '[exporter]\nlisten = ""\n[[domain]]\npath = "global"\nwarn_below = "10%"\n',
                            meminfo=MEMINFO_LOW)
    s1 = d.tick()
    clock.t += 1
    s2 = d.tick()
    alerts = [x for x in _lines(out) if x.get("event") == "low-headroom"]
    assert len(alerts) == 1
    assert alerts[0]["domain"] == "global" and alerts[0]["pid"] == 200
    assert s1 == s2 < 1.0
    # below warn: rescanned every interval
    assert d.scans == 2


def test_sleep_time_is_interval_when_ample_and_min_at_the_kill_threshold() -> None:
    def dom(h: int) -> DomainState:
        return DomainState("g", h, 1000, None, 100, 20)
    assert sleep_time((dom(500),), 1.0, 0.1) == 1.0
    assert sleep_time((dom(200),), 1.0, 0.1) == 1.0
    assert sleep_time((dom(20),), 1.0, 0.1) == 0.1
    mid = sleep_time((dom(110),), 1.0, 0.1)
    assert 0.1 < mid < 1.0
    assert sleep_time((dom(500), dom(20)), 1.0, 0.1) == 0.1   # the tightest domain decides


def test_choose_victim_respects_protect_immune_prefer_and_never_takes_init_or_itself() -> None:
    tasks = [Task(1, "init", rss_anon=9_000_000, is_global_init=True), Task(10, "db", rss_anon=800_000),
             Task(11, "cache", rss_anon=500_000), Task(12, "me", rss_anon=400_000),
             Task(13, "batch", rss_anon=100_000), Task(14, "pinned", rss_anon=700_000, oom_score_adj=-1000),
             Task(15, "tiny", rss_anon=1_000)]
    r = rank_tasks(tasks, MemInfo(4_000_000), release="6.18.0", page_size=4096)
    assert r.victim is not None and r.victim.task.pid == 10
    assert choose_victim(r, {}, self_pid=12).task.pid == 10
    assert choose_victim(r, {10: Intent.PROTECT}, self_pid=12).task.pid == 11
    assert choose_victim(r, {10: Intent.IMMUNE, 11: Intent.IMMUNE}, self_pid=12).task.pid == 13  # 12: itself; 14: -1000
    assert choose_victim(r, {13: Intent.PREFER}, self_pid=12).task.pid == 13
    assert choose_victim(r, {10: Intent.DEFAULT}, self_pid=12).task.pid == 10
    everyone = {10: Intent.PROTECT, 11: Intent.PROTECT, 13: Intent.IMMUNE, 15: Intent.PROTECT}
    assert choose_victim(r, everyone, self_pid=12) is None


def _policy_daemon(tmp_path, policy_text: str, tasks, cfg_extra: str = "", meminfo=proc_builders.MEMINFO):
    pol = tmp_path / "p.toml"
    pol.write_text(policy_text)
    return _daemon(tmp_path, tasks, f'policy = "{pol}"\n[exporter]\nlisten = ""\n{cfg_extra}', meminfo=meminfo)


def test_policy_intents_decide_the_early_kill_in_the_policy_file_format(tmp_path) -> None:
    # the same file format as `oomlens policy check`: big is protected by cmdline, mid by a negative adj; small
    # is preferred by uid. TASKS' fake cmdline files do not exist, so the cmdline rule needs them written.
    policy = ('[[rule]]\nname = "keep-big"\nmatch = { cmdline = "^/usr/bin/big " }\nintent = "protect"\n\n'
              '[[rule]]\nname = "mid"\nmatch.comm = "mid"\nadj = -300\n\n'
              '[[rule]]\nname = "small-first"\nintent = "prefer"\n[rule.match]\ncomm = "small"\nuser = 1000\n')
    cfg = '[[domain]]\npath = "global"\nwarn_below = "10%"\nkill_below = "5%"\n[action]\nkill = true\ndry_run = true\n'
    d, out, _ = _policy_daemon(tmp_path, policy, TASKS, cfg, meminfo=MEMINFO_LOW)
    (tmp_path / "proc" / "200" / "cmdline").write_bytes(b"/usr/bin/big --serve\0")
    d.tick()
    kills = [x for x in _lines(out) if x.get("event") == "early-kill"]
    assert [(x["pid"], x["verdict"]) for x in kills] == [(100, "dry-run")]   # prefer first, though the smallest
    (g,) = d.box.current.domains
    assert [(c.pid, c.intent) for c in g.top] == [(200, Intent.PROTECT), (300, Intent.PROTECT), (100, Intent.PREFER)]


def test_early_kill_over_a_fake_proc_never_signals_a_host_pid(tmp_path) -> None:
    cfg = '[exporter]\nlisten = ""\n[[domain]]\npath = "global"\nwarn_below = "10%"\nkill_below = "5%"\n[action]\nkill = true\n'
    d, out, _ = _daemon(tmp_path, TASKS, cfg, meminfo=MEMINFO_LOW)
    d.tick()
    # pid 200 is a fake task: a recorded /proc gives no pidfds, so the host's pid 200 (if any) is not touched
    assert not d.killer.pending
    assert [(x["pid"], x["verdict"]) for x in _lines(out) if x.get("event") == "early-kill"] == [(200, "unsupported")]


def test_policy_drift_counts_processes_off_their_rules_adj(tmp_path) -> None:
    policy = ('[[rule]]\nname = "bigs"\nmatch = { comm = "big" }\nadj = -500\n\n'
              '[[rule]]\nname = "mids"\nmatch = { comm = "mid" }\nadj = -500\n\n'
              '[[rule]]\nname = "nobody"\nmatch = { comm = "absent" }\nintent = "prefer"\n')
    tasks = TASKS[:3] + [FakeTask(300, "mid", rss_anon_kb=300_000, adj=-500)]
    d, out, _ = _policy_daemon(tmp_path, policy, tasks)
    d.tick()
    assert d.box.current.drift == {"bigs": 1, "mids": 0, "nobody": 0}   # big has adj 0, mid has -500
    risk = [x for x in _lines(out) if x.get("event") == "protected-at-risk"]
    # three eligible tasks (init is not): both protected ones are in the top 3, each alerted once
    assert sorted((x["pid"], x["rule"]) for x in risk) == [(200, "bigs"), (300, "mids")]
    d.tick()
    assert len([x for x in _lines(out) if x.get("event") == "protected-at-risk"]) == 2


def test_broken_policy_on_reload_keeps_the_running_one(tmp_path) -> None:
    d, out, clock = _policy_daemon(tmp_path, '[[rule]]\nname = "bigs"\nmatch = { comm = "big" }\nadj = -500\n', TASKS)
    d.tick()
    assert d.box.current.drift == {"bigs": 1}
    (tmp_path / "p.toml").write_text('[[rule]]\nname = "bigs"\nmatch = { comm = "big" }\nadj = -5000\n')
    assert not d.reload()
    failed = [x for x in _lines(out) if "reload failed" in x.get("msg", "")]
    assert len(failed) == 1 and f"{tmp_path / 'p.toml'}:4: adj must be an integer from -1000 to 1000" in failed[0]["msg"]
    clock.t += 100
    d.tick()
    assert d.cfg.policy is not None and d.cfg.policy.rules[0].adj == -500
    assert d.box.current.drift == {"bigs": 1}


def test_stop_from_a_signal_handler_ends_the_sleep(tmp_path) -> None:
    """SIGTERM's handler calls stop() at any point of the loop; with a threading.Event it could run while the
    loop held the Event's lock and wait for it forever. The wake-up is a pipe: no lock to wait for."""
    import signal
    import time

    d, _, _ = _daemon(tmp_path, [FakeTask(pid=10)])
    old = signal.signal(signal.SIGALRM, lambda *_: d.stop())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        t0 = time.monotonic()
        assert d.wake.wait(5.0) is True
        assert time.monotonic() - t0 < 2.0 and d.stopping
        d.run()  # returns at once: stopping was asked for
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        d.close()


def test_wakeup_is_level_triggered_and_never_blocks() -> None:
    import threading

    from oomlens.daemon.loop import Wakeup

    w = Wakeup()
    try:
        assert w.wait(0) is False
        for _ in range(200_000):  # far more than a pipe holds: set() must not block
            w.set()
        assert w.is_set() and w.wait(0)
        w.clear()
        assert not w.is_set()
        t = threading.Timer(0.05, w.set)
        t.start()
        assert w.wait(5.0) is True
        t.join()
    finally:
        w.close()
    w.set()  # after close: a late wake-up from a thread is harmless
    assert w.wait(0) is True


def test_stop_waits_for_nothing_the_loop_may_hold(tmp_path) -> None:
    """While the loop is inside the wake-up's wait/clear, stop() must still return at once (a handler runs in
    the loop's own thread, so anything it waited for would never be released)."""
    import contextlib
    import threading

    d, _, _ = _daemon(tmp_path, [FakeTask(pid=10)])
    held = getattr(d.wake, "_cond", None)  # a threading.Event's lock, had the wake-up been one
    with held if held is not None else contextlib.nullcontext():
        t = threading.Thread(target=d.stop, daemon=True)
        t.start()
        t.join(2.0)
        assert not t.is_alive(), "stop() waited for a lock the loop holds"
    assert d.stopping and d.wake.is_set()
    d.close()


def test_wakeup_with_a_descriptor_above_1023_sleeps() -> None:
    """select() cannot take a descriptor >= 1024: a wake-up made after 1,100 open files must still sleep, not
    report itself set at once (a daemon at 100% CPU)."""
    import os
    import resource
    import time

    import pytest

    from oomlens.daemon.loop import Wakeup

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("cannot open 1,100 files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    try:
        w = Wakeup()
        assert w._r >= 1024
        t0 = time.monotonic()
        assert w.wait(0.2) is False and time.monotonic() - t0 >= 0.15
        w.set()
        assert w.wait(0.2) is True
        w.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
