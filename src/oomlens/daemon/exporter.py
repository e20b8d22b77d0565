"""Prometheus exporter: a custom collector that serves what the loop computed last (:class:`StateBox`).

A scrape never scans processes or reads /proc: ``collect()`` only turns the last :class:`DaemonState` and
the counters into metric families (the documented custom-collector pattern of ``prometheus_client``). The
HTTP server runs in its own thread (``prometheus_client.start_http_server``) on a private registry.

Metrics: ``oomlens_domain_headroom_bytes{domain}``, ``oomlens_domain_totalpages{domain}``,
``oomlens_next_victim_info{domain,pid,comm}`` (1), ``oomlens_candidate_badness{domain,rank,pid,comm}`` (top K),
``oomlens_kernel_oom_kills_total{domain,comm,verdict}``, ``oomlens_early_kills_total{domain,comm}``,
``oomlens_policy_drift{rule}``, ``oomlens_scan_duration_seconds`` (histogram),
``oomlens_kmsg_lost_records_total``, ``oomlens_domain_psi_some_avg10{domain}`` / ``..._full_avg10``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from oomlens.daemon.state import StateBox
from oomlens.errors import ExporterError

__all__ = ["Exporter", "StateCollector"]

SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StateCollector(Collector):
    def __init__(self, box: StateBox) -> None:
        self.box = box

    def collect(self) -> Iterator[Metric]:
        st = self.box.current
        headroom = GaugeMetricFamily("oomlens_domain_headroom_bytes", "Bytes that can still be allocated in the "
                                     "domain before the OOM killer runs (global: MemAvailable+SwapFree; memcg: "
                                     "limit-usage of the binding cgroup)", labels=["domain"])
        total = GaugeMetricFamily("oomlens_domain_totalpages", "The OOM domain's size T in pages, as the kernel's "
                                  "oom_badness divides by it (last scan)", labels=["domain"])
        victim = GaugeMetricFamily("oomlens_next_victim_info", "The process the OOM killer would kill next in the "
                                   "domain (last scan)", labels=["domain", "pid", "comm"])
        cand = GaugeMetricFamily("oomlens_candidate_badness", "oom_badness points of the top K candidates (kill "
                                 "order)", labels=["domain", "rank", "pid", "comm"])
        some = GaugeMetricFamily("oomlens_domain_psi_some_avg10", "PSI memory some avg10 (percent)", labels=["domain"])
        full = GaugeMetricFamily("oomlens_domain_psi_full_avg10", "PSI memory full avg10 (percent)", labels=["domain"])
        for d in st.domains:
            if d.headroom is not None:
                headroom.add_metric([d.name], d.headroom)
            if d.totalpages is not None:
                total.add_metric([d.name], d.totalpages)
            if d.victim is not None:
                victim.add_metric([d.name, str(d.victim.pid), d.victim.comm], 1)
            for c in d.top:
                cand.add_metric([d.name, str(c.rank), str(c.pid), c.comm], c.badness)
            if d.psi is not None:
                some.add_metric([d.name], d.psi.some_avg10)
                full.add_metric([d.name], d.psi.full_avg10)
        yield from (headroom, total, victim, cand, some, full)
        drift = GaugeMetricFamily("oomlens_policy_drift", "Processes matched by a policy rule whose oom_score_adj "
                                  "differs from the rule's", labels=["rule"])
        for rule, n in sorted(st.drift.items()):
            drift.add_metric([rule], n)
        yield drift
        kernel, early, lost = self.box.counters.copy()
        k = CounterMetricFamily("oomlens_kernel_oom_kills", "Kernel OOM kills seen in the kernel log, with the "
                                "post-mortem verdict", labels=["domain", "comm", "verdict"])
        for (dom, comm, verdict), n in sorted(kernel.items()):
            k.add_metric([dom, comm, verdict], n)
        e = CounterMetricFamily("oomlens_early_kills", "Processes the daemon killed before the kernel had to",
                                labels=["domain", "comm"])
        for (dom, comm), n in sorted(early.items()):
            e.add_metric([dom, comm], n)
        g = CounterMetricFamily("oomlens_kmsg_lost_records", "Kernel log records lost before they were read")
        g.add_metric([], lost)
        yield from (k, e, g)


class Exporter:
    """The registry (state collector + scan-duration histogram) and, once :meth:`start` ed, the HTTP server."""

    def __init__(self, box: StateBox) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StateCollector(box))
        self.scan_duration = Histogram("oomlens_scan_duration_seconds", "Duration of one domain's full process scan",
                                       registry=self.registry, buckets=SCAN_BUCKETS)
        self._server: Any = None
        self.port: int | None = None

    def start(self, host: str, port: int) -> None:
        listen = f"{host}:{port}"
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
