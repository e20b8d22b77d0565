"""Exit codes of the ``oomlens`` command, in one place (listed in ``oomlens --help`` and the README)."""

from __future__ import annotations

from oomlens import errors

OK = 0
INTERNAL = 1            # a bug: please report it with the traceback (OOMLENS_DEBUG=1)
USAGE = 2               # bad arguments (click's own code too), bad --kernel version, bad SIZE, unwritable --html FILE
NO_SUCH_PROCESS = 3     # unknown pid, or pid outside the chosen OOM domain
CGROUP = 4              # cgroup path does not exist or has no memory controller
SNAPSHOT = 5            # snapshot file missing or malformed
ACCESS = 6              # permission denied (reading /proc, writing cgroups, selftest not root)
INPUT = 7               # unreadable input for postmortem
SELFTEST_FAILED = 8     # the model disagreed with the kernel in at least one scenario
SELFTEST_UNAVAILABLE = 9  # no writable memory cgroup here: selftest cannot run

# Most specific class first: the first match wins.
ERROR_CODES: tuple[tuple[type[errors.OomLensError], int], ...] = (
    (errors.NoSuchProcess, NO_SUCH_PROCESS),
    (errors.AccessDenied, ACCESS),
    (errors.CgroupError, CGROUP),
    (errors.SnapshotError, SNAPSHOT),
    (errors.KernelVersionError, USAGE),
    (errors.InputError, INPUT),
    (errors.SelftestError, SELFTEST_UNAVAILABLE),
    (errors.OutputAccessError, ACCESS),
    (errors.OutputError, USAGE),
    (errors.OomLensError, INTERNAL),
)

HELP = """Exit status: 0 ok; 1 internal error; 2 usage (bad option, --kernel, SIZE or --html FILE); 3 unknown pid or pid
outside the OOM domain; 4 bad cgroup path or no memory controller; 5 bad snapshot file; 6 permission denied;
7 unreadable postmortem input; 8 selftest: model disagreed with the kernel; 9 selftest cannot run here."""


def code_for(exc: BaseException) -> int:
    for cls, code in ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return INTERNAL
