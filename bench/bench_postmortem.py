#!/usr/bin/env python3
"""Benchmark: the kernel-log parser (``oomlens.oomreport``) against ``grep -c 'Killed process'``.

Generates a syslog file of ordinary kernel and userspace noise (default 256 MiB; varied realistic
lines from three hosts: firewall, audit, network, storage, USB, systemd/cron/sshd, hung-task and
WARNING call traces with ``CPU: .. PID:`` lines, page-allocation failures with a full
``Mem-Info`` block, and userspace lines that merely mention ``oom``/``Killed process``), with the
real reports of ``tests/data/oomreport/corpus/*.log`` embedded every ``--every`` MiB. Then, in
the same run and alternating, ROUNDS times:

* ``grep -c 'Killed process' FILE`` (baseline),
* ``oomlens postmortem --json FILE`` (the product command: parse, re-score every event, stream JSON),
* ``python -m oomlens.cli.oomreport_dump --count FILE`` (CLI entry, interpreter start-up included),
* ``iter_events`` in a child process that only parses (in-process time, measured inside it),

and prints the medians, the ratios to grep and the peak RSS of the parsing children
(``ru_maxrss`` from ``os.wait4`` of each parsing child: an upper bound, since Linux folds the
pre-exec mm's peak, here this small bench process's, into it). It also checks that
the number of events equals the sum over the embedded reports. Targets: ratio <= 4, RSS <= 200 MiB.

    .venv/bin/python bench/bench_postmortem.py [--size-mib 256] [--every-mib 8] [--rounds 3]
                                               [--file PATH] [--keep]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "data", "oomreport", "corpus")
SRC = os.path.join(ROOT, "src")

HOSTS = ("web-01", "db-02", "build-03")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

KERNEL = [
    "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:{h2}:{h2}:{h2}:52:54:00:65:43:21:08:00 SRC=203.0.113.{b} "
    "DST=198.51.100.{b} LEN={n3} TOS=0x00 PREC=0x00 TTL={b} ID={n5} PROTO=TCP SPT={n5} DPT=22 "
    "WINDOW=1024 RES=0x00 SYN URGP=0",
    'audit: type=1400 audit({n10}.{n3}:{n3}): apparmor="DENIED" operation="open" '
    'profile="/usr/sbin/cupsd" name="/etc/ssl/openssl.cnf" pid={n4} comm="cupsd" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    "EXT4-fs (sda{d}): mounted filesystem with ordered data mode. Opts: (null)",
    "usb 1-{d}: new high-speed USB device number {d} using xhci_hcd",
    "e1000e: eth{d} NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "TCP: request_sock_TCP: Possible SYN flooding on port {n4}. Sending cookies.  Check SNMP "
    "counters.",
    "docker0: port {d}(veth{h2}{h2}{h2}) entered forwarding state",
    "perf: interrupt took too long ({n4} > {n4}), lowering kernel.perf_event_max_sample_rate to "
    "{n5}",
    "nf_conntrack: nf_conntrack: table full, dropping packet",
    "IPv4: martian source 10.0.{b}.{b} from 10.0.{b}.{b}, on dev eth0",
    "ll header: 00000000: ff ff ff ff ff ff 52 54 00 {h2} {h2} {h2} 08 06",
    "sd 0:0:0:0: [sda] {n8} 512-byte logical blocks: ({n3} GB/{n3} GiB)",
    "blk_update_request: I/O error, dev sdb, sector {n8} op 0x0:(READ) flags 0x0 phys_seg 1 prio "
    "class 0",
    "nfs: server filer{d} not responding, still trying",
    "xfs filesystem being mounted at /var/lib/docker supports timestamps until 2038 (0x7fffffff)",
    "overlayfs: upperdir is in-use as upperdir/workdir of another mount, accessing files from "
    "both mounts will result in undefined behavior.",
    "device veth{h2}{h2} entered promiscuous mode",
    "IPv6: ADDRCONF(NETDEV_CHANGE): veth{h2}{h2}: link becomes ready",
    "cgroup: fork rejected by pids controller in /system.slice/app{d}.service",
    "kauditd_printk_skb: {d} callbacks suppressed",
    "bpfilter: Loaded bpfilter_umh pid {n4}",
    "TCP: eth0: Driver has suspect GRO implementation, TCP performance may be compromised.",
    "Memory: {n8}K/{n8}K available ({n5}K kernel code, {n4}K rwdata)",
    "zram0: detected capacity change from 0 to {n8}",
    "x86/split lock detection: #AC: java/{n4} took a split_lock trap at address: 0x7f{h2}{h2}",
    "EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:"
    "0x{h2}{h2} offset:0x0 grain:32 syndrome:0x0)",
]
# (weight, template): userspace lines; a few mention "oom" or "Killed process" without being
# kernel output, as real logs do (systemd-oomd, earlyoom, application watchdogs).
USER = [
    (300, "systemd[1]: Started Session {n3} of user deploy."),
    (200, "CRON[{n5}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"),
    (200, "sshd[{n5}]: Accepted publickey for deploy from 192.0.2.{b} port {n5} ssh2: RSA "
          "SHA256:abc"),
    (200, "dockerd[{n4}]: time=\"2024-05-17T19:54:29.{n5}Z\" level=info msg=\"ignoring event\" "
          "container={h2}{h2}{h2}{h2} module=libcontainerd"),
    (200, "kubelet[{n4}]: I0517 19:54:29.{n5} {n4} kubelet_pods.go:1082] \"Clean up pod "
          "workers\""),
    (100, "containerd[{n4}]: level=info msg=\"shim disconnected\" id={h2}{h2}{h2}"),
    (20, "systemd-oomd[{n3}]: Considered {n3} cgroups for killing, top candidates were: none"),
    (10, "earlyoom[{n3}]: mem avail: {n5} of {n5} MiB ({d}.{d}%), swap free: 0 of 0 MiB"),
    (10, "kubelet[{n4}]: I0517 eviction_manager.go:338] \"Eviction manager: attempting to "
         "reclaim\" resourceName=\"memory\" oom_score_adj=-997"),
    (5, "app[{n4}]: zoom meeting room booked, bloom filter rebuilt, input out of range"),
    (1, "supervisord[{n3}]: watchdog: Killed process {n4} (worker) after a 30 s timeout"),
]
WARN_TRACE = [
    "WARNING: CPU: {d} PID: {n4} at net/core/dev.c:{n4} dev_watchdog+0x{h2}/0x{h2}",
    "Modules linked in: xt_conntrack nf_nat br_netfilter overlay ext4 mbcache jbd2",
    "CPU: {d} PID: {n4} Comm: kworker/{d}:{d} Not tainted 5.15.0-107-generic #117-Ubuntu",
    "Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-1-1 04/01/2014",
    "RIP: 0010:dev_watchdog+0x{h2}/0x{h2}",
    "Call Trace:",
    " <TASK>",
    " call_timer_fn+0x{h2}/0x{h2}",
    " __run_timers.part.0+0x{h2}/0x{h2}",
    " run_timer_softirq+0x{h2}/0x{h2}",
    " __do_softirq+0x{h2}/0x{h2}",
    " </TASK>",
    "---[ end trace {h2}{h2}{h2}{h2} ]---",
]
ALLOC_FAIL = [
    "kworker/u16:{d}: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), "
    "nodemask=(null),cpuset=/,mems_allowed=0",
    "CPU: {d} PID: {n4} Comm: kworker/u16:{d} Not tainted 5.15.0-107-generic #117-Ubuntu",
    "Call Trace:",
    " <TASK>",
    " dump_stack_lvl+0x{h2}/0x{h2}",
    " warn_alloc+0x{h2}/0x{h2}",
    " __alloc_pages_slowpath.constprop.0+0x{h2}/0x{h2}",
    " __alloc_pages+0x{h2}/0x{h2}",
    " </TASK>",
    "Mem-Info:",
    "active_anon:{n5} inactive_anon:{n5} isolated_anon:0",
    " active_file:{n5} inactive_file:{n5} isolated_file:0",
    "Node 0 DMA32 free:{n5}kB boost:0kB min:{n4}kB low:{n4}kB high:{n4}kB present:{n7}kB "
    "managed:{n7}kB mlocked:0kB",
    "{n5} total pagecache pages",
    "Free swap  = 0kB",
    "Total swap = 0kB",
    "{n7} pages RAM",
    "{n5} pages reserved",
]


class _Fields(dict):  # format_map source with fresh random values per field use
    def __init__(self, rnd: random.Random) -> None:
        super().__init__()
        self.r = rnd

    def __missing__(self, key: str) -> str:
        r = self.r
        if key == "d":
            return str(r.randrange(10))
        if key == "b":
            return str(r.randrange(256))
        if key == "h2":
            return f"{r.randrange(256):02x}"
        return str(r.randrange(10 ** (int(key[1:]) - 1), 10 ** int(key[1:])))


def _render_pool(templates: list[str], rnd: random.Random, n: int) -> list[str]:
    return [rnd.choice(templates).format_map(_Fields(rnd)) for _ in range(n)]


_UPTIME = re.compile(rb"\[( *)(\d{1,9})\.(\d{6})\]")
_SYSLOG_HOUR = re.compile(rb"^((?:[A-Z][a-z]{2} [ \d]\d) )(\d\d):(\d\d)(:\d\d)", re.M)
_ISO_YEAR = re.compile(rb"\b(20\d\d)-(\d\d-\d\dT)")


def _later(report: bytes, k: int) -> bytes:
    """The k-th embedding of a corpus report as a later OOM of the same machine (k = 0: as it is): its uptime
    stamps k x 100,000 s later, its syslog clock k hours and k // 24 minutes later (both wrap), its ISO year k
    later. Without this the copies were the same OOM printed again, which postmortem reports once (its other
    copies are repeats, not analysed)."""
    if k == 0:
        return report

    def up(m: re.Match[bytes]) -> bytes:
        sec = str(int(m.group(2)) + k * 100_000).encode()
        return b"[" + m.group(1)[:max(0, len(m.group(1)) - (len(sec) - len(m.group(2))))] + sec + b"." + m.group(3) + b"]"

    report = _UPTIME.sub(up, report)
    report = _SYSLOG_HOUR.sub(lambda m: m.group(1) + b"%02d:%02d" % ((int(m.group(2)) + k) % 24,
                                                                     (int(m.group(3)) + k // 24) % 60) + m.group(4),
                              report)
    return _ISO_YEAR.sub(lambda m: str(int(m.group(1)) + k).encode() + b"-" + m.group(2), report)


def generate(path: str, size_mib: int, every_mib: float, seed: int = 7) -> tuple[int, int]:
    """Write the test log; return (embedded reports, expected events)."""
    sys.path.insert(0, SRC)
    from oomlens.oomreport import iter_events

    rnd = random.Random(seed)
    kern = _render_pool(KERNEL, rnd, 20000)
    user = [t.format_map(_Fields(rnd))
            for w, t in USER for _ in range(w * 4)]
    corpus = []
    for f in sorted(glob.glob(os.path.join(CORPUS, "*.log"))):
        with open(f, "rb") as fh:
            data = fh.read()
        if not data.endswith(b"\n"):
            data += b"\n"
        corpus.append((data, sum(1 for _ in iter_events([data], f))))
    if not corpus:
        raise SystemExit(f"no corpus files in {CORPUS}")
    target = size_mib << 20
    every = int(every_mib * (1 << 20))
    written = 0
    next_report = every // 2
    reports = events = 0
    t = 1_000_000.0
    day = 1
    with open(path, "wb", buffering=1 << 20) as out:
        while written < target:
            parts = []
            for _ in range(2000):
                t += rnd.random() * 0.05
                sec = int(t)
                stamp = (f"{MONTHS[4]} {day:2d} {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:"
                         f"{sec % 60:02d} {HOSTS[rnd.randrange(3)]} ")
                x = rnd.random()
                if x < 0.75:
                    parts.append(f"{stamp}kernel: [{t:12.6f}] {rnd.choice(kern)}\n")
                elif x < 0.9995:
                    parts.append(stamp + rnd.choice(user) + "\n")
                else:
                    block = WARN_TRACE if rnd.random() < 0.7 else ALLOC_FAIL
                    for line in block:
                        parts.append(f"{stamp}kernel: [{t:12.6f}] "
                                     f"{line.format_map(_Fields(rnd))}\n")
            blob = "".join(parts).encode()
            out.write(blob)
            written += len(blob)
            if written >= next_report:
                data, n = corpus[reports % len(corpus)]
                out.write(_later(data, reports // len(corpus)))
                written += len(data)
                reports += 1
                events += n
                next_report += every
    return reports, events


def _child_inprocess(path: str) -> None:
    """Child-process body: parse and print 'events seconds'."""
    sys.path.insert(0, SRC)
    from oomlens.sources.kernellog import iter_file_events

    t0 = time.perf_counter()
    n = sum(1 for _ in iter_file_events(path))
    print(n, time.perf_counter() - t0)


# Children may cache bytecode (as an installed package has it), in a private directory so that
# the source tree is not touched; PYTHONDONTWRITEBYTECODE in the caller's environment would
# otherwise make every CLI run recompile the package.
_PYCACHE = tempfile.mkdtemp(prefix="oomlens-bench-pycache-")
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_ENV.update(PYTHONPATH=SRC, PYTHONPYCACHEPREFIX=_PYCACHE)


def _run(cmd: list[str]) -> tuple[float, str, int]:
    """(wall seconds, stdout, peak RSS in KiB of exactly this child, from wait4)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_ENV)
    assert p.stdout is not None
    out = p.stdout.read().decode()
    p.stdout.close()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):  # grep -c exits 1 when it counts 0
        raise SystemExit(f"{cmd} failed with status {p.returncode}")
    return wall, out.strip(), usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--every-mib", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--file", help="where to write the log (default: a temporary file)")
    ap.add_argument("--keep", action="store_true", help="keep (and reuse) --file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child_inprocess(args.child)
        return
    path = args.file or os.path.join(tempfile.gettempdir(), f"oomlens-bench-{args.size_mib}m.log")
    t0 = time.perf_counter()
    if args.keep and os.path.exists(path) and os.path.getsize(path) >= args.size_mib << 20:
        sys.path.insert(0, SRC)
        reports, expected = -1, -1
        print(f"reusing {path}")
    else:
        reports, expected = generate(path, args.size_mib, args.every_mib)
        print(f"generated {path}: {os.path.getsize(path) / (1 << 20):.0f} MiB, {reports} reports "
              f"embedded ({expected} events expected) in {time.perf_counter() - t0:.1f} s")
    try:
        grep = ["grep", "-c", "Killed process", path]
        cli = [sys.executable, "-m", "oomlens.cli.oomreport_dump", "--count", path]
        post = [sys.executable, "-m", "oomlens", "postmortem", "--json", path]
        inproc = [sys.executable, os.path.abspath(__file__), "--child", path]
        _run(grep), _run(cli), _run(inproc), _run(post)  # warm the page cache and the bytecode cache
        t_grep, t_cli, t_in, t_post, rss = [], [], [], [], []
        counts = set()
        for _ in range(args.rounds):
            w, out, _ = _run(grep)
            t_grep.append(w)
            w, out, r3 = _run(post)
            t_post.append(w)
            rss.append(r3)
            counts.add(out.count('"verdict":'))
            w, out, r = _run(cli)
            t_cli.append(w)
            counts.add(int(out))
            w, out, r2 = _run(inproc)
            n, secs = out.split()
            counts.add(int(n))
            t_in.append(float(secs))
            rss.append(max(r, r2))
        g = statistics.median(t_grep)
        print(f"grep -c 'Killed process':            median {g * 1000:7.1f} ms")
        print(f"oomlens postmortem --json:           median {statistics.median(t_post) * 1000:7.1f} ms"
              f"  ratio {statistics.median(t_post) / g:.2f}")
        print(f"python -m oomlens.cli.oomreport_dump --count: median {statistics.median(t_cli) * 1000:7.1f} ms"
              f"  ratio {statistics.median(t_cli) / g:.2f}")
        print(f"iter_events in-process:              median {statistics.median(t_in) * 1000:7.1f} ms"
              f"  ratio {statistics.median(t_in) / g:.2f}")
        print(f"events found: {sorted(counts)}" + (f" (expected {expected})" if expected >= 0 else ""))
        print(f"peak RSS of the parsing children: {max(rss) / 1024:.1f} MiB (target <= 200)")
        print(f"RATIO postmortem/grep={statistics.median(t_post) / g:.2f} cli/grep={statistics.median(t_cli) / g:.2f} "
              f"inprocess/grep={statistics.median(t_in) / g:.2f} (target <= 4.0)")
        if expected >= 0 and counts != {expected}:
            print("WARNING: event count differs from the sum over the embedded reports")
    finally:
        shutil.rmtree(_PYCACHE, ignore_errors=True)
        if not args.keep and not args.file:
            os.unlink(path)


if __name__ == "__main__":
    main()
