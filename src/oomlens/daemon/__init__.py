"""``oomlens daemon``: watch OOM domains, alert, export metrics, optionally act before the kernel.

Modules: :mod:`.config` (the TOML file), :mod:`.policy` (protection rules), :mod:`.state` (the values the
loop computes, read by the exporter), :mod:`.alerts` (JSON lines + exec hook), :mod:`.scan` (the full process
scan, per domain), :mod:`.kernelwatch` (live kernel log follower + post-mortem verdicts), :mod:`.action`
(opt-in early kill), :mod:`.loop` (the poll loop), :mod:`.exporter` (Prometheus), :mod:`.watch`
(``oomlens top --watch``).
"""
