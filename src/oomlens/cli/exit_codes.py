"""Exit codes of the ``oomlens`` command, in one place (listed in ``oomlens --help`` and the README)."""

from __future__ import annotations

from oomlens import errors

OK = 0
INTERNAL = 1            # a bug: please report it with the traceback (OOMLENS_DEBUG=1)
USAGE = 2               # bad arguments (click's own code too), bad --kernel version, bad SIZE, unwritable --html FILE
NO_SUCH_PROCESS = 3     # unknown pid, or pid outside the chosen OOM domain
CGROUP = 4              # cgroup path does not exist or has no memory controller
SNAPSHOT = 5            # snapshot file missing or malformed
ACCESS = 6              # permission denied (reading /proc, writing cgroups or an output file, selftest not root)
INPUT = 7               # postmortem: an input was unreadable (the others were still read)
SELFTEST_FAILED = 8     # the model disagreed with the kernel in at least one scenario
SELFTEST_UNAVAILABLE = 9  # no writable memory cgroup here: selftest cannot run
ADJ_DENIED = 10         # the kernel refused to lower oom_score_adj: below oom_score_adj_min without CAP_SYS_RESOURCE
ADJ_FAILED = 11         # an oom_score_adj write failed, or the kernel did not keep the value
POLICY = 12             # the policy file has errors (each printed with its line number); nothing applied
EXEC_FAILED = 127       # `oomlens run`: the command could not be executed (shell convention)
CONFIG = 13             # daemon: the config file (or the policy file it names) cannot be used
EXPORTER = 14           # daemon: the metrics endpoint cannot listen (port taken, bad address)
OUTPUT = 15             # cannot write the output file (snapshot -o FILE, --html FILE): missing directory, disk full...

# Most specific class first: the first match wins.
ERROR_CODES: tuple[tuple[type[errors.OomLensError], int], ...] = (
    (errors.NoSuchProcess, NO_SUCH_PROCESS),
    (errors.AccessDenied, ACCESS),
    (errors.CgroupError, CGROUP),
    (errors.OutputAccessDenied, ACCESS),
    (errors.OutputError, OUTPUT),
    (errors.SnapshotError, SNAPSHOT),
    (errors.KernelVersionError, USAGE),
    (errors.InputError, INPUT),
    (errors.SelftestError, SELFTEST_UNAVAILABLE),
    (errors.PolicyError, POLICY),
    (errors.ExecError, EXEC_FAILED),
    (errors.AdjustDenied, ADJ_DENIED),
    (errors.AdjustError, ADJ_FAILED),
    (errors.ConfigError, CONFIG),
    (errors.ExporterError, EXPORTER),
    (errors.MissingExtra, USAGE),
    (errors.OomLensError, INTERNAL),
)

HELP = """Exit status: 0 ok; 1 internal error; 2 usage (bad option, --kernel, SIZE; --html without its extra);
3 unknown pid or pid outside the OOM domain; 4 bad cgroup path or no memory controller; 5 bad snapshot file; 6 permission denied;
7 a postmortem input was unreadable (the others were still read); 8 selftest: model disagreed with the
kernel; 9 selftest cannot run here;
10 the kernel refused to lower oom_score_adj (needs CAP_SYS_RESOURCE); 11 an oom_score_adj write failed or
did not stick; 12 the policy file has errors; 13 daemon: bad config file; 14 daemon: the exporter cannot listen
(port taken); 15 cannot write the output file; 127 `run` could not execute the command."""


def code_for(exc: BaseException) -> int:
    for cls, code in ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return INTERNAL
