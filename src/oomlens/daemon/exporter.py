"""Prometheus exporter: serves what the loop computed last (:class:`StateBox`) in the text exposition format
(version 0.0.4).

A scrape never scans processes or reads /proc: :meth:`Exporter.collect` only turns the last
:class:`DaemonState` and the counters into metric families. The format is written here and served by a
``socketserver`` thread, not by ``prometheus_client``: that package's ``__init__`` imports its
``exposition`` module, which imports ``ssl``, ``urllib.request``, ``http.server`` and ``wsgiref`` (and
``http.server`` alone pulls in ``ssl`` through ``http.client``): 13.8 MiB of a daemon budgeted at 30 MiB, for
a dozen metric families. Tests parse the output with ``prometheus_client``'s parser.

Metrics: ``oomlens_domain_headroom_bytes{domain}``, ``oomlens_domain_totalpages{domain}``,
``oomlens_next_victim_info{domain,pid,comm}`` (1), ``oomlens_candidate_badness{domain,rank,pid,comm}`` (top K),
``oomlens_kernel_oom_kills_total{domain,comm,verdict}``, ``oomlens_early_kills_total{domain,comm}``,
``oomlens_policy_drift{rule}``, ``oomlens_scan_duration_seconds`` (histogram),
``oomlens_kmsg_lost_records_total``, ``oomlens_domain_psi_some_avg10{domain}`` / ``..._full_avg10``.
"""

from __future__ import annotations

import errno
import math
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from oomlens.daemon.state import StateBox
from oomlens.errors import ExporterError

__all__ = ["CONTENT_TYPE", "Exporter", "Family", "Histogram", "render"]

SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _label_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Family:
    """One metric family: ``kind`` gauge, counter (samples named ``NAME_total``) or histogram."""

    name: str
    help: str
    kind: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[str, tuple[tuple[str, str], ...], float]] = field(default_factory=list)

    def add(self, values: Sequence[str], value: float) -> None:
        assert len(values) == len(self.labels), (self.name, values)
        suffix = "_total" if self.kind == "counter" else ""
        self.samples.append((self.name + suffix, tuple(zip(self.labels, values)), value))


def render(families: Iterable[Family]) -> bytes:
    out: list[str] = []
    for f in families:
        name = f.name + ("_total" if f.kind == "counter" else "")
        out.append(f"# HELP {name} {f.help.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
        out.append(f"# TYPE {name} {f.kind}")
        for sample, labels, value in f.samples:
            lab = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels)
            out.append(f"{sample}{{{lab}}} {_num(value)}" if lab else f"{sample} {_num(value)}")
    return ("\n".join(out) + "\n").encode()


class Histogram:
    """A label-less histogram (cumulative buckets, ``_sum``, ``_count``); ``observe`` may run in any thread."""

    def __init__(self, name: str, help: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help
        self.bounds = tuple(buckets) + (math.inf,)
        self._counts = [0] * len(self.bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            for i, b in enumerate(self.bounds):
                if value <= b:
                    self._counts[i] += 1
                    break

    def family(self) -> Family:
        with self._lock:
            counts, total = list(self._counts), self._sum
        f = Family(self.name, self.help, "histogram")
        acc = 0
        for b, n in zip(self.bounds, counts):
            acc += n
            f.samples.append((self.name + "_bucket", (("le", _num(b)),), acc))
        f.samples += [(self.name + "_count", (), acc), (self.name + "_sum", (), total)]
        return f


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = self.rfile.readline(8192).decode("latin-1").split()
            while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
        except OSError:
            return
        if len(request) < 2:
            return
        method, path = request[0], request[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
        elif path not in ("/metrics", "/"):
            status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
        else:
            status, body, ctype = "200 OK", self.server.render(), CONTENT_TYPE
        head = (f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        try:
            self.wfile.write(head + (body if method != "HEAD" else b""))
        except OSError:
            pass  # the scraper went away


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], render: Callable[[], bytes]) -> None:
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.render = render
        super().__init__(addr, _Handler)


class Exporter:
    """The metric families of a :class:`StateBox` plus the scan-duration histogram and, once :meth:`start` ed,
    the HTTP server."""

    def __init__(self, box: StateBox) -> None:
        self.box = box
        self.scan_duration = Histogram("oomlens_scan_duration_seconds", "Duration of one domain's full process scan",
                                       SCAN_BUCKETS)
        self._server: _Server | None = None
        self.port: int | None = None

    def collect(self) -> list[Family]:
        st = self.box.current
        headroom = Family("oomlens_domain_headroom_bytes", "Bytes that can still be allocated in the domain before "
                          "the OOM killer runs (global: MemAvailable+SwapFree; memcg: limit-usage of the binding "
                          "cgroup)", "gauge", ("domain",))
        total = Family("oomlens_domain_totalpages", "The OOM domain's size T in pages, as the kernel's oom_badness "
                       "divides by it (last scan)", "gauge", ("domain",))
        victim = Family("oomlens_next_victim_info", "The process the OOM killer would kill next in the domain (last "
                        "scan)", "gauge", ("domain", "pid", "comm"))
        cand = Family("oomlens_candidate_badness", "oom_badness points of the top K candidates (kill order)", "gauge",
                      ("domain", "rank", "pid", "comm"))
        some = Family("oomlens_domain_psi_some_avg10", "PSI memory some avg10 (percent)", "gauge", ("domain",))
        full = Family("oomlens_domain_psi_full_avg10", "PSI memory full avg10 (percent)", "gauge", ("domain",))
        for d in st.domains:
            if d.headroom is not None:
                headroom.add([d.name], d.headroom)
            if d.totalpages is not None:
                total.add([d.name], d.totalpages)
            if d.victim is not None:
                victim.add([d.name, str(d.victim.pid), d.victim.comm], 1)
            for c in d.top:
                cand.add([d.name, str(c.rank), str(c.pid), c.comm], c.badness)
            if d.psi is not None:
                some.add([d.name], d.psi.some_avg10)
                full.add([d.name], d.psi.full_avg10)
        drift = Family("oomlens_policy_drift", "Processes matched by a policy rule whose oom_score_adj differs from "
                       "the rule's", "gauge", ("rule",))
        for rule, n in sorted(st.drift.items()):
            drift.add([rule], n)
        kernel, early, lost = self.box.counters.copy()
        k = Family("oomlens_kernel_oom_kills", "Kernel OOM kills seen in the kernel log, with the post-mortem "
                   "verdict", "counter", ("domain", "comm", "verdict"))
        for (dom, comm, verdict), n in sorted(kernel.items()):
            k.add([dom, comm, verdict], n)
        e = Family("oomlens_early_kills", "Processes the daemon killed before the kernel had to", "counter",
                   ("domain", "comm"))
        for (dom, comm), n in sorted(early.items()):
            e.add([dom, comm], n)
        g = Family("oomlens_kmsg_lost_records", "Kernel log records lost before they were read", "counter")
        g.add([], lost)
        return [headroom, total, victim, cand, some, full, drift, k, e, g, self.scan_duration.family()]

    def render(self) -> bytes:
        return render(self.collect())

    def start(self, host: str, port: int) -> None:
        listen = f"{host}:{port}"
        try:
            self._server = _Server((host, port), self.render)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ExporterError(listen, "address already in use",
                                    hint=f"another process listens there (`ss -ltnp 'sport = :{port}'`); set "
                                         "[exporter] listen to a free port, or \"\" to disable the exporter") from None
            if e.errno in (errno.EACCES, errno.EPERM):
                raise ExporterError(listen, "permission denied", hint="ports below 1024 need CAP_NET_BIND_SERVICE") from None
            raise ExporterError(listen, f"cannot listen: {e.strerror or e}",
                                hint="check [exporter] listen (HOST:PORT, loopback by default)") from None
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="oomlens-exporter", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
