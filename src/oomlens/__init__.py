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
from oomlens.types import (
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

__all__ = sorted([
    "AccessDenied", "CgroupError", "InputError", "KernelRelease", "KernelVersionError", "LONG_MIN",
    "MemInfo", "MemcgLimits", "NoMemoryController", "NoSuchProcess", "OomConstraint", "OomLensError",
    "OomReportParseError", "PAGE_SIZE", "ProcParseError", "ProcessError", "SnapshotError", "Task",
    "VmSysctls", "ZombieProcess", "__version__",
])
