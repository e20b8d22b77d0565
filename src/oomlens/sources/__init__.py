"""Everything that touches the host: procfs, cgroupfs, memory status and pressure, the kernel log,
and the live snapshot. The only code in oomlens that reads ``/proc``, ``/sys`` or ``/dev/kmsg`` or
runs a program; OS errors become :mod:`oomlens.errors` here.
"""
