"""The pure kernel model: value types, kernel eras as data, and ``mm/oom_kill.c`` itself.

No I/O, no clock, standard library only. Everything here mirrors the kernel's names.
"""
