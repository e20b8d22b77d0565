"""The oomlens exception hierarchy. Every error a user can act on carries a ``hint``.

::

    OomLensError
    ├── ProcessError(pid, name)
    │   ├── NoSuchProcess
    │   │   ├── ZombieProcess
    │   │   └── ProcessReplaced   the pid now names another process (reused pid)
    │   └── AccessDenied
    ├── ProcParseError(path, line)
    ├── CgroupError(path)
    │   └── NoMemoryController
    ├── SnapshotError(path)
    ├── OutputError(path)            cannot write an output file (-o FILE)
    │   └── OutputAccessDenied
    ├── KernelVersionError(value)
    ├── OomReportParseError(source, lineno, text)
    ├── InputError(source)            unreadable input file / stream
    ├── SelftestError                 the kernel-oracle self test could not run
    ├── PolicyError(source, problems)  a policy file with errors (one line each)
    ├── ExecError                     `oomlens run` could not execute the command
    ├── AdjustError                   an oom_score_adj write failed or did not stick
    │   └── AdjustDenied              lowering below oom_score_adj_min without CAP_SYS_RESOURCE
    ├── ConfigError(path, line)       a daemon config file that cannot be used
    ├── ExporterError(listen)         the metrics endpoint cannot listen
    └── MissingExtra                  an optional extra (e.g. 'html') is not installed

Pure: standard library only. The CLI maps each class to an exit code in one place
(``oomlens.cli.exit_codes``).
"""

from __future__ import annotations


class OomLensError(Exception):
    """Base class. ``hint`` is a one-line suggestion for the user, or None."""

    hint: str | None = None

    def __init__(self, msg: str, *, hint: str | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.msg

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls, state):  # type: ignore[no-untyped-def]
    obj = cls.__new__(cls)
    Exception.__init__(obj, state.get("msg", ""))
    obj.__dict__.update(state)
    return obj


class ProcessError(OomLensError):
    def __init__(self, pid: int, name: str | None = None, msg: str | None = None, *, hint: str | None = None) -> None:
        self.pid = pid
        self.name = name
        label = f"pid {pid}" + (f" ({name})" if name else "")
        super().__init__(msg or f"process error: {label}", hint=hint)


class NoSuchProcess(ProcessError):
    def __init__(self, pid: int, name: str | None = None, msg: str | None = None) -> None:
        super().__init__(pid, name, msg or f"no such process: pid {pid}",
                         hint="the process may have exited; list candidates with `oomlens top --all`")


class ZombieProcess(NoSuchProcess):
    def __init__(self, pid: int, name: str | None = None) -> None:
        super().__init__(pid, name, f"pid {pid} is a zombie (it has no memory left to kill)")


class ProcessReplaced(NoSuchProcess):
    """The pid names a different process than the one identified earlier (its start time changed)."""

    def __init__(self, pid: int, name: str | None = None, now: str | None = None) -> None:
        super().__init__(pid, name, f"pid {pid}" + (f" ({name})" if name else "") + " has exited and its pid now "
                         "belongs to another process" + (f" ({now})" if now else "") + ": nothing was changed")
        self.hint = "look the process up again (`oomlens top --all`) and retry"


class AccessDenied(ProcessError):
    def __init__(self, pid: int, name: str | None = None, msg: str | None = None) -> None:
        super().__init__(pid, name, msg or f"access denied reading pid {pid}",
                         hint="run as root, or as the process owner")


class ProcParseError(OomLensError):
    def __init__(self, path: str, line: str | None = None, msg: str | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(msg or f"cannot parse {path}" + (f": {line!r}" if line else ""),
                         hint="is the --proc root a real procfs (or a complete snapshot of one)?")


class CgroupError(OomLensError):
    def __init__(self, path: str, msg: str | None = None, *, hint: str | None = None) -> None:
        self.path = path
        super().__init__(msg or f"no such cgroup: {path}",
                         hint=hint or "give the path under /sys/fs/cgroup/... or as shown in /proc/PID/cgroup")


class NoMemoryController(CgroupError):
    def __init__(self, path: str) -> None:
        super().__init__(path, f"cgroup {path} has no memory controller",
                         hint="on cgroup v2 enable it in the parent's cgroup.subtree_control; on v1 use the memory hierarchy")


class SnapshotError(OomLensError):
    def __init__(self, path: str, msg: str) -> None:
        self.path = path
        super().__init__(f"bad snapshot {path}: {msg}", hint="create one with `oomlens snapshot -o FILE`")


class OutputError(OomLensError):
    """An output file (``snapshot -o FILE``) cannot be written: not a snapshot problem."""

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"cannot write {path}: {reason}",
                         hint=hint or "check that the directory exists and the disk is writable; '-o -' writes to stdout")


class OutputAccessDenied(OutputError):
    def __init__(self, path: str, reason: str = "permission denied") -> None:
        super().__init__(path, reason, hint="write to a directory you own, or run as its owner")


class KernelVersionError(OomLensError):
    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(f"not a kernel version: {value!r}", hint="use a release like 3.10, 4.19 or 6.8.0-45-generic")


class OomReportParseError(OomLensError):
    def __init__(self, source: str, lineno: int, text: str, msg: str | None = None) -> None:
        self.source = source
        self.lineno = lineno
        self.text = text
        super().__init__(msg or f"{source}:{lineno}: cannot parse {text!r}")


class InputError(OomLensError):
    def __init__(self, source: str, msg: str, *, hint: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {msg}", hint=hint)


class SelftestError(OomLensError):
    pass


class AdjustError(OomLensError):
    """An ``oom_score_adj`` / ``oom_adj`` write that failed, or that the kernel did not keep."""

    def __init__(self, msg: str, *, pid: int | None = None, hint: str | None = None) -> None:
        self.pid = pid
        super().__init__(msg, hint=hint)


class AdjustDenied(AdjustError):
    """The kernel refused to lower the value: below ``oom_score_adj_min`` (or, through ``oom_adj``, below
    the current value) without CAP_SYS_RESOURCE (``-EACCES``)."""

    hint = ("lowering needs CAP_SYS_RESOURCE: run the program as a systemd unit with OOMScoreAdjust=N, "
            "or grant the capability (e.g. `setpriv --ambient-caps +sys_resource`, or run as real root)")


class PolicyError(OomLensError):
    """A policy file with errors: ``problems`` are (line, message) pairs, each printed as one line."""

    hint = "see README 'Policy file' for every key; nothing was applied"

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}:{line}: {msg}" for line, msg in problems))


class ExecError(OomLensError):
    """``oomlens run`` could not execute the command (not found, not executable)."""


class ConfigError(OomLensError):
    """A daemon config file that cannot be used; ``line`` is 1-based when known."""

    def __init__(self, path: str, msg: str, *, line: int | None = None, hint: str | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {msg}", hint=hint or "see the `daemon` section of the README for every key")

    @classmethod
    def from_policy(cls, exc: PolicyError | InputError) -> ConfigError:
        """The policy file the config names cannot be used: the policy's own message (for a PolicyError, every
        problem as ``FILE:LINE: message``, as ``oomlens policy check`` prints them) and hint."""
        err = cls.__new__(cls)
        OomLensError.__init__(err, str(exc), hint=exc.hint)
        err.path = exc.source
        err.line = exc.problems[0][0] if isinstance(exc, PolicyError) and exc.problems else None
        return err


class ExporterError(OomLensError):
    """The Prometheus endpoint cannot listen (address in use, bad address, no permission)."""

    def __init__(self, listen: str, msg: str, *, hint: str | None = None) -> None:
        self.listen = listen
        super().__init__(f"exporter {listen}: {msg}", hint=hint)


class MissingExtra(OomLensError):
    """An option needs an optional extra that is not installed (``--html`` needs ``oomlens[html]``)."""
