"""oomlens: reproduce the Linux OOM killer's victim choice exactly, live or from kernel logs."""

from oomlens.errors import (
    AccessDenied,
    CgroupError,
    InputError,
    KernelVersionError,
    NoMemoryController,
    NoSuchProcess,
    OomLensError,
    OomReportParseError,
    ProcessError,
    ProcParseError,
    SnapshotError,
    ZombieProcess,
)
from oomlens.kernel.types import (
    LONG_MIN,
    PAGE_SIZE,
    KernelRelease,
    MemcgLimits,
    MemInfo,
    OomConstraint,
    Task,
    VmSysctls,
)

__version__ = "0.1.0"

# The live-data boundary is imported on first use: `import oomlens` stays cheap for the CLI.
_LAZY = {"ProcFS": "oomlens.sources.procfs", "CgroupFS": "oomlens.sources.cgroupfs",
         "Snapshot": "oomlens.kernel.snapshot", "take_snapshot": "oomlens.sources.live",
         "load_snapshot": "oomlens.sources.live", "save_snapshot": "oomlens.sources.live"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oomlens' has no attribute {name!r}")


__all__ = [
    "AccessDenied", "CgroupError", "CgroupFS", "InputError", "KernelRelease", "KernelVersionError",
    "LONG_MIN", "MemInfo", "MemcgLimits", "NoMemoryController", "NoSuchProcess", "OomConstraint",
    "OomLensError", "OomReportParseError", "PAGE_SIZE", "ProcFS", "ProcParseError", "ProcessError",
    "Snapshot", "SnapshotError", "Task", "VmSysctls", "ZombieProcess", "__version__", "load_snapshot",
    "save_snapshot", "take_snapshot",
]
