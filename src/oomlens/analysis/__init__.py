"""Analyses over a typed :class:`~oomlens.kernel.snapshot.Snapshot` or parsed kernel reports:
rank, explain, predict, postmortem. Pure: they read nothing from the host.
"""
