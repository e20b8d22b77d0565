"""A snapshot: everything the kernel model needs about one host at one moment, as exact JSON.

:func:`take_snapshot` reads it live (through :class:`~oomlens.procfs.ProcFS` and
:class:`~oomlens.cgroup.CgroupFS`, the only readers of ``/proc`` and cgroupfs);
:func:`save_snapshot` / :func:`load_snapshot` store it as ``oomlens-snapshot/1`` JSON, validated
field by field on load (a bad file raises :class:`SnapshotError` naming the field). The round trip
``Snapshot.from_json(s.to_json()) == s`` is exact.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oomlens.errors import CgroupError, SnapshotError
from oomlens.types import UNKNOWN, MemcgLimits, MemInfo, Task, Unknown, VmSysctls

__all__ = ["FORMAT", "Snapshot", "load_snapshot", "restrict_to_cgroup", "save_snapshot", "take_snapshot"]

FORMAT = "oomlens-snapshot/1"
SCAN_ORDERS = ("start_time", "pidfs", "pid")
"""How a snapshot's task order was obtained (:attr:`Snapshot.scan_order`)."""



@dataclass(frozen=True)
class Snapshot:
    """One host at one moment.

    ``tasks`` are in the kernel's **global scan order**: ``for_each_process`` walks
    ``init_task.tasks``, to which ``fork`` appends, so the order is creation order. ``scan_order``
    says how that order was obtained: ``"start_time"`` (``/proc/PID/stat`` start times were read:
    ascending ``start_time_s``, then pid), ``"pidfs"`` (ascending pidfs inode numbers, which Linux
    6.9+ gives each pid from one counter at fork, see :meth:`oomlens.procfs.ProcFS.pidfs_id`; start
    times not read) or ``"pid"`` (start times not read; pid order equals creation order as long as
    pids never wrapped, which :func:`take_snapshot` checks before skipping ``stat``). Ties between
    equal badness are decided by this order.

    For a cgroup snapshot, ``cgroup`` holds the memcg's limits and ``cgroup_pids`` the member pids
    in the memcg scan order (pre-order over the subtree; within a v1 cgroup approximated, see
    notes); member tasks carry their cgroup path in ``Task.memcg``. ``cgroup_ancestors`` are the
    ancestors' limits, parent first (a hierarchical OOM can happen in any of them). ``oom_groups``
    maps cgroup paths to ``memory.oom.group`` = 1 (v2). ``oom_scores`` is ``/proc/PID/oom_score``
    read right after each task, for verification (None when not read). ``unreadable`` counts
    processes that could not be read (AccessDenied, unparsable).
    """

    taken_at: str
    hostname: str
    kernel_release: str
    page_size: int
    uptime_s: float
    meminfo: MemInfo
    sysctls: VmSysctls
    tasks: tuple[Task, ...]
    scan_order: str = "start_time"
    cgroup: MemcgLimits | None = None
    cgroup_pids: tuple[int, ...] = ()
    cgroup_ancestors: tuple[MemcgLimits, ...] = ()
    oom_groups: dict[str, bool] = field(default_factory=dict)
    oom_scores: dict[int, int] | None = None
    unreadable: int = 0
    notes: tuple[str, ...] = ()
    format: str = FORMAT

    def task(self, pid: int) -> Task | None:
        for t in self.tasks:
            if t.pid == pid:
                return t
        return None

    # --- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "taken_at": self.taken_at,
            "hostname": self.hostname,
            "kernel_release": self.kernel_release,
            "page_size": self.page_size,
            "uptime_s": self.uptime_s,
            "meminfo": _encode_dc(self.meminfo),
            "sysctls": _encode_dc(self.sysctls),
            "scan_order": self.scan_order,
            "cgroup": None if self.cgroup is None else _encode_dc(self.cgroup),
            "cgroup_pids": list(self.cgroup_pids),
            "cgroup_ancestors": [_encode_dc(a) for a in self.cgroup_ancestors],
            "oom_groups": dict(self.oom_groups),
            "oom_scores": None if self.oom_scores is None else {str(k): v for k, v in self.oom_scores.items()},
            "unreadable": self.unreadable,
            "notes": list(self.notes),
            "tasks": [_encode_dc(t) for t in self.tasks],
        }

    def to_json(self) -> str:
        """JSON text: the header indented, then one task per line."""
        doc = self.to_dict()
        tasks = doc.pop("tasks")
        head = json.dumps(doc, indent=1)
        body = ",\n  ".join(json.dumps(t, separators=(",", ":")) for t in tasks)
        return head[:-2] + ',\n "tasks": [\n  ' + body + "\n ]\n}" if tasks else head[:-2] + ',\n "tasks": []\n}'

    @classmethod
    def from_dict(cls, doc: Any, source: str = "<snapshot>") -> Snapshot:
        """Validate every field; raise SnapshotError naming the first bad one."""
        return _decode_snapshot(doc, source)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "<snapshot>") -> Snapshot:
        try:
            doc = json.loads(text)
        except UnicodeDecodeError:
            raise SnapshotError(source, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise SnapshotError(source, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        return _decode_snapshot(doc, source)


def save_snapshot(snap: Snapshot, path: str | os.PathLike[str]) -> None:
    """Write ``snap`` as JSON, atomically (a temporary file renamed over ``path``)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(snap.to_json())
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SnapshotError(path, f"cannot write: {exc.strerror or exc}") from None


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot saved by :func:`save_snapshot`.

    Raises SnapshotError for: a missing or unreadable file, text that is not JSON, a wrong or
    missing ``format`` tag, and any missing, unknown or ill-typed field (named in the message,
    e.g. ``tasks[3].rss_anon``).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise SnapshotError(path, "no such file") from None
    except IsADirectoryError:
        raise SnapshotError(path, "is a directory") from None
    except PermissionError:
        raise SnapshotError(path, "permission denied") from None
    except OSError as exc:
        raise SnapshotError(path, f"cannot read: {exc.strerror or exc}") from None
    return Snapshot.from_json(data, path)


# --- taking one ------------------------------------------------------------------------------


def take_snapshot(procfs: Any = None, cgroups: Any = None, *, cgroup: str | None = None, legacy: bool = False,
                  with_oom_scores: bool = False, with_stat: bool | None = None) -> Snapshot:
    """Read this host into a :class:`Snapshot`.

    ``cgroup`` (a cgroupfs path or a ``/proc/PID/cgroup`` path) makes it a memcg snapshot: limits,
    ancestors' limits, member pids in scan order. ``legacy`` also reads ``stat`` for CPU times and
    nice (the ≤2.6.35 heuristic). ``with_oom_scores`` records ``/proc/PID/oom_score``.

    ``with_stat``: True reads ``/proc/PID/stat`` for every process (start times, PF_EXITING);
    False never does (unless a kernel lacks status ``Kthread:``); None (default) reads it only when
    needed: legacy, or when pids may have wrapped (then pid order is not creation order) and the
    kernel gives no pidfs inode numbers (before 6.9; with them, the cheaper pidfd gives the order).
    ``children`` is filled from ``ppid``, in creation order.
    """
    from oomlens.procfs import ProcFS, ScanStats

    procfs = procfs if procfs is not None else ProcFS()
    # what /proc cannot show is said by the model (oomlens.api.UNOBSERVABLE), once
    notes: list[str] = []
    release = procfs.kernel_release()
    meminfo = procfs.read_meminfo()
    sysctls = procfs.read_sysctls()
    uptime = procfs.read_uptime()
    try:
        hostname = procfs.hostname()
    except Exception:  # noqa: BLE001 - a fixture may not record it
        hostname = os.uname().nodename

    pids = procfs.pids()
    no_wrap = procfs.pid_order_is_creation_order(pids)
    pidfs_ids: dict[int, int] | None = None
    if with_stat is None and not legacy and not no_wrap:
        if procfs.has_pidfs_ids():
            pidfs_ids = {}
        else:
            with_stat = True
    stats = ScanStats()
    tasks: list[Task] = []
    scores: dict[int, int] | None = {} if with_oom_scores else None
    for t in procfs.iter_tasks(legacy, with_stat=with_stat, stats=stats, pids=pids, pidfs_ids=pidfs_ids):
        tasks.append(t)
        if scores is not None:
            try:
                scores[t.pid] = procfs.read_oom_score(t.pid)
            except Exception:  # noqa: BLE001 - vanished or unreadable: no score to verify against
                pass
    if pidfs_ids is not None:
        tasks.sort(key=lambda t, ids=pidfs_ids: ids[t.pid])  # type: ignore[misc]
        scan_order = "pidfs"
        notes.append("tasks in creation order from pidfs inode numbers (numbered at fork; pids have wrapped "
                     "since boot, so pid order is not creation order); start times not read")
    else:
        tasks.sort(key=lambda t: (t.start_time_s, t.pid))  # without start times: pid order
        scan_order = "start_time" if any(t.start_time_s for t in tasks) else "pid"
        if scan_order == "pid":
            notes.append("start times not read: tasks in pid order, which is creation order because pids have "
                         "not wrapped since boot (forks since boot < pid_max)" if no_wrap
                         else "start times not read: tasks in pid order, assumed to be creation order")
    if scan_order != "start_time":
        notes.append("PF_EXITING not read (no /proc/PID/stat): no task is taken to be exiting")
    if stats.unreadable:
        notes.append(f"{stats.unreadable} processes unreadable (skipped)")

    limits = None
    members: tuple[int, ...] = ()
    ancestors: tuple[MemcgLimits, ...] = ()
    groups: dict[str, bool] = {}
    memcg_of: dict[int, str] = {}
    if cgroup is not None or cgroups is not None or procfs.root == "/proc":
        from oomlens.cgroup import CgroupFS

        cgfs = cgroups if cgroups is not None else CgroupFS(procfs=procfs, page_size=procfs.page_size)
        if cgroup is not None:
            cg = cgfs.resolve(cgroup)
            limits = cgfs.limits(cg, global_swappiness=sysctls.swappiness)
            ancestors = cgfs.ancestor_limits(cg, global_swappiness=sysctls.swappiness)
            groups = cgfs.oom_group_flags(cg)
            members, memcg_of = _members_in_scan_order(cgfs.member_pids(cg), tasks, cg.version, notes)
        elif cgfs.v1_memory is None and cgfs.v2 is not None:
            # cgroup v2 with memory: record each task's memcg so memory.oom.group can be applied.
            try:
                root = cgfs.resolve(cgfs.v2)
                groups = cgfs.oom_group_flags(root)
                memcg_of = dict(cgfs.member_pids(root))
            except CgroupError:
                pass
    if memcg_of:
        tasks = [t.with_(memcg=memcg_of[t.pid]) if t.pid in memcg_of else t for t in tasks]
    tasks = _with_children(tasks)
    return Snapshot(
        taken_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        hostname=hostname,
        kernel_release=release,
        page_size=procfs.page_size,
        uptime_s=uptime,
        meminfo=meminfo,
        sysctls=sysctls,
        tasks=tuple(tasks),
        scan_order=scan_order,
        cgroup=limits,
        cgroup_pids=members,
        cgroup_ancestors=ancestors,
        oom_groups=groups,
        oom_scores=scores,
        unreadable=stats.unreadable,
        notes=tuple(notes),
    )


def _members_in_scan_order(members: list[tuple[int, str]], tasks: list[Task], version: int,
                           notes: list[str]) -> tuple[tuple[int, ...], dict[int, str]]:
    """Member pids that have a task, in memcg scan order, and their cgroup paths."""
    pos = {t.pid: i for i, t in enumerate(tasks)}
    kept = [(pid, path) for pid, path in members if pid in pos]
    if len(kept) < len(members):
        notes.append(f"{len(members) - len(kept)} cgroup members exited or were unreadable during the scan")
    if version == 1:
        # v1 cgroup.procs is sorted by pid; the kernel walks each cgroup's css_sets in the order
        # tasks joined them. Creation order is the closer approximation: keep the pre-order of
        # cgroups, and order the tasks of each cgroup as in the global list.
        out: list[tuple[int, str]] = []
        i = 0
        while i < len(kept):
            j = i
            while j < len(kept) and kept[j][1] == kept[i][1]:
                j += 1
            out.extend(sorted(kept[i:j], key=lambda m: pos[m[0]]))
            i = j
        kept = out
        notes.append("cgroup v1: within one cgroup, members are ordered by creation (cgroup.procs is sorted by "
                     "pid, the kernel's css_set order is not visible)")
    return tuple(pid for pid, _ in kept), dict(kept)


def _with_children(tasks: list[Task]) -> list[Task]:
    """Fill ``children`` from ``ppid``; tasks are in creation order, which is the order of the
    kernel's ``p->children`` list (fork appends)."""
    kids: dict[int, list[int]] = {}
    for t in tasks:
        if t.ppid:
            kids.setdefault(t.ppid, []).append(t.pid)
    if not kids:
        return tasks
    return [t.with_(children=tuple(kids[t.pid])) if t.pid in kids else t for t in tasks]


def restrict_to_cgroup(snap: Snapshot, cgroup: str) -> Snapshot:
    """``snap`` as the memcg snapshot for ``cgroup``, when it holds the data for it.

    Accepts the ``/proc/PID/cgroup`` path or a ``/sys/fs/cgroup/...`` path. A snapshot taken for
    that cgroup is returned as is; any other snapshot lacks its limits and members, which raises
    CgroupError (retake it with ``--cgroup``).
    """
    want = _cgroup_key(cgroup)
    if snap.cgroup is not None and _cgroup_key(snap.cgroup.path) == want:
        return snap
    took = f"for cgroup {snap.cgroup.path}" if snap.cgroup is not None else "globally"
    raise CgroupError(cgroup, f"the snapshot has no data for cgroup {cgroup} (it was taken {took})",
                      hint=f"take the snapshot with `oomlens snapshot --cgroup {cgroup} -o FILE`")


def _cgroup_key(path: str) -> str:
    p = posixpath.normpath("/" + path.strip("/"))
    for prefix in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if p == prefix or p.startswith(prefix + "/"):
            return p[len(prefix):] or "/"
    return p


# --- JSON codec ------------------------------------------------------------------------------
# Dataclass fields are coded from their annotation (a string: the types module uses postponed
# annotations). A field whose annotation is not in this table makes encoding fail loudly, so a new
# field type cannot silently produce a file that will not load.


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dec_int(v: Any) -> int:
    if not _is_int(v):
        raise TypeError("an integer")
    return int(v)


def _dec_float(v: Any) -> float:
    if not (_is_int(v) or isinstance(v, float)):
        raise TypeError("a number")
    return float(v)


def _dec_str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("a string")
    return v


def _dec_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def _dec_bool_unknown(v: Any) -> bool | Unknown:
    if v == "unknown":
        return UNKNOWN
    if not isinstance(v, bool):
        raise TypeError('true, false or "unknown"')
    return v


def _dec_list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError("a list")
    return v


def _dec_object(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise TypeError("an object")
    return v


def _dec_int_tuple(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list) or not all(_is_int(x) for x in v):
        raise TypeError("a list of integers")
    return tuple(v)


def _optional(dec: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
    def d(v: Any) -> Any:
        if v is None:
            return None
        try:
            return dec(v)
        except TypeError:
            raise TypeError(f"{what} or null") from None
    return d


_CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "int": (int, _dec_int),
    "float": (float, _dec_float),
    "str": (str, _dec_str),
    "bool": (bool, _dec_bool),
    "int | None": (lambda v: v, _optional(_dec_int, "an integer")),
    "str | None": (lambda v: v, _optional(_dec_str, "a string")),
    "bool | Unknown": (lambda v: "unknown" if v is UNKNOWN else bool(v), _dec_bool_unknown),
    "tuple[int, ...]": (list, _dec_int_tuple),
}


def _codec(cls: type, f: dataclasses.Field[Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", repr(f.type))
    try:
        return _CODECS[ann]
    except KeyError:
        raise TypeError(f"snapshot codec: no JSON coding for {cls.__name__}.{f.name}: {ann}") from None


_FIELDS_CACHE: dict[type, list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]] = {}


def _fields(cls: type) -> list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]:
    got = _FIELDS_CACHE.get(cls)
    if got is None:
        got = [(f.name, *_codec(cls, f)) for f in dataclasses.fields(cls)]
        _FIELDS_CACHE[cls] = got
    return got


def _encode_dc(obj: Any) -> dict[str, Any]:
    return {name: enc(getattr(obj, name)) for name, enc, _ in _fields(type(obj))}


class _Bad(Exception):
    """A validation failure at a field path; becomes SnapshotError(source, message)."""


def _field(doc: dict[str, Any], name: str, dec: Callable[[Any], Any], where: str = "") -> Any:
    """``dec(doc[name])``; a missing or ill-typed value raises _Bad naming ``where.name``."""
    label = f"{where}.{name}" if where else name
    if name not in doc:
        raise _Bad(f"missing field '{label}'")
    try:
        return dec(doc[name])
    except TypeError as exc:
        raise _Bad(f"field '{label}': expected {exc}, got {_json_type(doc[name])}") from None


def _check_keys(doc: Any, names: Any, where: str) -> dict[str, Any]:
    """``doc`` must be an object with no key outside ``names``."""
    if not isinstance(doc, dict):
        raise _Bad(f"field '{where}': expected an object, got {_json_type(doc)}" if where
                   else f"expected a JSON object, got {_json_type(doc)}")
    for key in doc:
        if key not in names:
            raise _Bad(f"unknown field '{where}.{key}'" if where else f"unknown field '{key}'")
    return doc


def _decode_dc(cls: type, doc: Any, where: str) -> Any:
    fields = _fields(cls)
    _check_keys(doc, {n for n, _, _ in fields}, where)
    return cls(**{name: _field(doc, name, dec, where) for name, _, dec in fields})


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    return "an object"


_TOP_LEVEL = ("format", "taken_at", "hostname", "kernel_release", "page_size", "uptime_s", "meminfo", "sysctls",
              "scan_order", "cgroup", "cgroup_pids", "cgroup_ancestors", "oom_groups", "oom_scores", "unreadable",
              "notes", "tasks")


def _decode_snapshot(doc: Any, source: str) -> Snapshot:
    try:
        return _decode_snapshot_doc(doc)
    except _Bad as exc:
        raise SnapshotError(source, str(exc)) from None


def _decode_snapshot_doc(doc: Any) -> Snapshot:
    if isinstance(doc, dict) and "format" not in doc:
        raise _Bad("no 'format' field: not an oomlens snapshot")
    _check_keys(doc, _TOP_LEVEL, "")
    if doc["format"] != FORMAT:
        raise _Bad(f"format is {doc['format']!r}, expected {FORMAT!r}")
    for key in _TOP_LEVEL:
        _field(doc, key, lambda v: v)

    taken_at = _field(doc, "taken_at", _dec_str)
    from datetime import datetime

    try:
        datetime.fromisoformat(taken_at)
    except ValueError:
        raise _Bad(f"field 'taken_at': not an ISO 8601 time: {taken_at!r}") from None
    page_size = _field(doc, "page_size", _dec_int)
    if page_size < 1024 or page_size & (page_size - 1):
        raise _Bad(f"field 'page_size': {page_size} is not a power of two >= 1024")
    scan_order = _field(doc, "scan_order", _dec_str)
    if scan_order not in SCAN_ORDERS:
        raise _Bad(f"field 'scan_order': expected one of {', '.join(map(repr, SCAN_ORDERS))}, got {scan_order!r}")

    tasks_doc = _field(doc, "tasks", _dec_list)
    tasks = tuple(_decode_dc(Task, t, f"tasks[{i}]") for i, t in enumerate(tasks_doc))
    seen: set[int] = set()
    for i, t in enumerate(tasks):
        if t.pid in seen:
            raise _Bad(f"field 'tasks[{i}].pid': pid {t.pid} appears twice")
        seen.add(t.pid)

    cgroup = None if doc["cgroup"] is None else _decode_dc(MemcgLimits, doc["cgroup"], "cgroup")
    cgroup_pids = _field(doc, "cgroup_pids", _dec_int_tuple)
    for i, pid in enumerate(cgroup_pids):
        if pid not in seen:
            raise _Bad(f"field 'cgroup_pids[{i}]': pid {pid} has no entry in 'tasks'")
    if cgroup is None and cgroup_pids:
        raise _Bad("field 'cgroup_pids': members listed but 'cgroup' is null")
    ancestors_doc = _field(doc, "cgroup_ancestors", _dec_list)
    ancestors = tuple(_decode_dc(MemcgLimits, a, f"cgroup_ancestors[{i}]") for i, a in enumerate(ancestors_doc))

    groups_doc = _field(doc, "oom_groups", _dec_object)
    for k, v in groups_doc.items():
        if not isinstance(v, bool):
            raise _Bad(f"field 'oom_groups.{k}': expected true or false, got {_json_type(v)}")

    scores_doc = _field(doc, "oom_scores", _optional(_dec_object, "an object"))
    scores: dict[int, int] | None = None
    if scores_doc is not None:
        scores = {}
        for k, v in scores_doc.items():
            if not k.isdigit():
                raise _Bad(f"field 'oom_scores.{k}': key is not a pid")
            if not _is_int(v):
                raise _Bad(f"field 'oom_scores.{k}': expected an integer, got {_json_type(v)}")
            scores[int(k)] = v

    notes = doc["notes"]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _Bad("field 'notes': expected a list of strings")

    return Snapshot(
        taken_at=taken_at,
        hostname=_field(doc, "hostname", _dec_str),
        kernel_release=_field(doc, "kernel_release", _dec_str),
        page_size=page_size,
        uptime_s=_field(doc, "uptime_s", _dec_float),
        meminfo=_decode_dc(MemInfo, doc["meminfo"], "meminfo"),
        sysctls=_decode_dc(VmSysctls, doc["sysctls"], "sysctls"),
        tasks=tasks,
        scan_order=scan_order,
        cgroup=cgroup,
        cgroup_pids=cgroup_pids,
        cgroup_ancestors=ancestors,
        oom_groups=dict(groups_doc),
        oom_scores=scores,
        unreadable=_field(doc, "unreadable", _dec_int),
        notes=tuple(notes),
    )
