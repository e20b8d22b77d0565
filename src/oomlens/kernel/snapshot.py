"""A snapshot: everything the kernel model needs about one host at one moment, as exact JSON.

:func:`take_snapshot` reads it live (through :class:`~oomlens.sources.procfs.ProcFS` and
:class:`~oomlens.sources.cgroupfs.CgroupFS`, the only readers of ``/proc`` and cgroupfs);
:func:`save_snapshot` / :func:`load_snapshot` store it as ``oomlens-snapshot/1`` JSON, validated
field by field on load (a bad file raises :class:`SnapshotError` naming the field). The round trip
``Snapshot.from_json(s.to_json()) == s`` is exact.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oomlens.errors import CgroupError, KernelVersionError, SnapshotError
from oomlens.kernel.eras import era_for
from oomlens.kernel.types import UNKNOWN, MemcgLimits, MemInfo, Task, Unknown, VmSysctls

__all__ = ["FORMAT", "MAX_BYTES", "SCAN_ORDERS", "Snapshot", "restrict_to_cgroup"]

FORMAT = "oomlens-snapshot/1"
SCAN_ORDERS = ("start_time", "pidfs", "pid")
"""How a snapshot's task order was obtained (:attr:`Snapshot.scan_order`)."""
MAX_BYTES = 256 << 20
"""Largest snapshot file accepted (256 MiB: about 600,000 tasks); larger ones are refused unread."""
MAX_DEPTH = 16
"""Deepest nesting of ``[`` / ``{`` accepted (a snapshot needs 3); checked before parsing."""



@dataclass(frozen=True)
class Snapshot:
    """One host at one moment.

    ``tasks`` are in the kernel's **global scan order**: ``for_each_process`` walks
    ``init_task.tasks``, to which ``fork`` appends, so the order is creation order. ``scan_order``
    says how that order was obtained: ``"start_time"`` (``/proc/PID/stat`` start times were read:
    ascending ``start_time_s``, then pid), ``"pidfs"`` (ascending pidfs inode numbers, which Linux
    6.9+ gives each pid from one counter at fork, see :meth:`oomlens.sources.procfs.ProcFS.pidfs_id`; start
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
    domain_pids: tuple[int, ...] | None = None
    """When ``cgroup`` has no memory limit of its own: the member pids of its nearest limited ancestor
    (the real OOM domain), in memcg scan order; None otherwise."""
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
            **({} if self.domain_pids is None else {"domain_pids": list(self.domain_pids)}),
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
        """Parse and validate; time and memory stay bounded on any input (size and nesting are checked
        before the JSON parser runs; numbers too long for Python's int conversion are refused)."""
        if len(text) > MAX_BYTES:
            raise SnapshotError(source, f"larger than {MAX_BYTES >> 20} MiB: not a snapshot oomlens wrote")
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(source, "not UTF-8 text") from None
        if _too_deep(text):
            raise SnapshotError(source, f"nested more than {MAX_DEPTH} levels deep (a snapshot has 3): not a snapshot")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SnapshotError(source, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (ValueError, RecursionError, MemoryError) as exc:  # e.g. an integer of 4,301+ digits
            raise SnapshotError(source, f"not a usable JSON document: {str(exc).split(';')[0]}") from None
        return _decode_snapshot(doc, source)


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
    try:
        return float(v)
    except OverflowError:  # an integer beyond 1.8e308
        raise TypeError("a number a float can hold") from None


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


_STRING = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.S)
"""A JSON string, or an unterminated one up to the end: it always matches at a quote, so no input makes the
search go back (linear time)."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


_OTHER_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
_PARENS = bytes.maketrans(b"[{]}", b"(())")


def _deeper_than(data: bytes, limit: int) -> bool:
    """Whether ``[``/``{`` nest more than ``limit`` deep in ``data`` (strings not excluded). Each pass of
    bytes.replace removes the innermost level of every group, so ``limit`` C-speed passes decide it."""
    bare = data.translate(_PARENS, _OTHER_BYTES)
    for _ in range(limit):
        if b"()" not in bare:
            break
        bare = bare.replace(b"()", b"")
    return b"()" in bare or b"(" * (limit + 1) in bare


def _too_deep(text: str) -> bool:
    """``[``/``{`` nested more than MAX_DEPTH deep outside strings. Brackets inside strings count only when the
    quick count over the raw text is already too deep: then the strings are cut out (linear) and it is redone."""
    if not _deeper_than(text.encode("utf-8", "surrogatepass"), MAX_DEPTH):
        return False
    if '"' not in text:
        return True
    return _deeper_than(_STRING.sub("", text).encode("utf-8", "surrogatepass"), MAX_DEPTH)


_U64 = (0, 2**64 - 1)
_PID = (1, 2**31 - 1)
_RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("Task", "pid"): _PID, ("Task", "tgid"): _PID, ("Task", "ppid"): (0, 2**31 - 1), ("Task", "uid"): (0, 2**32 - 1),
    ("Task", "oom_score_adj"): (-1000, 1000), ("Task", "legacy_oom_adj"): (-17, 15), ("Task", "nice"): (-20, 19),
    ("Task", "num_threads"): (0, 2**31 - 1), ("Task", "children"): _PID,
    ("MemInfo", "totalram_pages"): (1, 2**64 - 1), ("MemInfo", "page_size"): (0, 2**64 - 1),  # checked below
    ("MemcgLimits", "version"): (1, 2), ("MemcgLimits", "swappiness"): (0, 200),
    ("VmSysctls", "panic_on_oom"): (0, 2), ("VmSysctls", "oom_kill_allocating_task"): (0, 2**31 - 1),
    ("VmSysctls", "oom_dump_tasks"): (0, 2**31 - 1), ("VmSysctls", "swappiness"): (0, 200),
}
"""Each int field's range (inclusive); unlisted int fields are unsigned long counters: 0 .. 2**64-1."""


def _shown(v: int) -> str:
    return str(v) if -10**20 < v < 10**20 else f"a {len(str(v))}-digit number"


def _check_ranges(obj: Any, where: str) -> None:
    """Every int field of ``obj`` in its range and every float finite and >= 0, or _Bad naming the field."""
    cls = type(obj).__name__
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        label = f"{where}.{f.name}" if where else f.name
        if isinstance(v, float):
            if not math.isfinite(v) or v < 0:
                raise _Bad(f"field '{label}': {v} is not a time or size (must be finite and >= 0)")
            continue
        values = v if isinstance(v, tuple) else (v,)
        lo, hi = _RANGES.get((cls, f.name), _U64)
        for i, x in enumerate(values):
            if _is_int(x) and not lo <= x <= hi:
                at = f"{label}[{i}]" if isinstance(v, tuple) else label
                raise _Bad(f"field '{at}': {_shown(x)} is out of range ({lo} .. {_shown(hi)})")


def _check_page_size(v: int, label: str) -> None:
    if not 4096 <= v <= 1 << 20 or v & (v - 1):
        raise _Bad(f"field '{label}': {_shown(v)} is not a power of two from 4096 to 1048576")


_TOP_LEVEL = ("format", "taken_at", "hostname", "kernel_release", "page_size", "uptime_s", "meminfo", "sysctls",
              "scan_order", "cgroup", "cgroup_pids", "cgroup_ancestors", "domain_pids", "oom_groups", "oom_scores",
              "unreadable",
              "notes", "tasks")


_OPTIONAL = frozenset({"domain_pids"})


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
        if key not in _OPTIONAL:
            _field(doc, key, lambda v: v)

    taken_at = _field(doc, "taken_at", _dec_str)
    from datetime import datetime

    try:
        datetime.fromisoformat(taken_at)
    except ValueError:
        raise _Bad(f"field 'taken_at': not an ISO 8601 time: {taken_at!r}") from None
    page_size = _field(doc, "page_size", _dec_int)
    _check_page_size(page_size, "page_size")
    release = _field(doc, "kernel_release", _dec_str)
    try:
        era_for(release)
    except KernelVersionError:
        raise _Bad(f"field 'kernel_release': {release[:80]!r} is not a Linux release (like 6.8.0-45-generic)") from None
    uptime = _field(doc, "uptime_s", _dec_float)
    if not math.isfinite(uptime) or uptime < 0:
        raise _Bad(f"field 'uptime_s': {uptime} is not an uptime (must be finite and >= 0)")
    unreadable = _field(doc, "unreadable", _dec_int)
    if not 0 <= unreadable < 2**31:
        raise _Bad(f"field 'unreadable': {_shown(unreadable)} is out of range (0 .. {2**31 - 1})")
    dropped: list[str] = []
    scan_order = _field(doc, "scan_order", _dec_str)
    if scan_order not in SCAN_ORDERS:
        raise _Bad(f"field 'scan_order': expected one of {', '.join(map(repr, SCAN_ORDERS))}, got {scan_order!r}")

    tasks_doc = _field(doc, "tasks", _dec_list)
    tasks = tuple(_decode_dc(Task, t, f"tasks[{i}]") for i, t in enumerate(tasks_doc))
    for i, t in enumerate(tasks):
        _check_ranges(t, f"tasks[{i}]")
    tasks = _last_of_each(tasks, lambda t: t.pid, "tasks", dropped)
    seen = {t.pid for t in tasks}

    cgroup = None if doc["cgroup"] is None else _decode_dc(MemcgLimits, doc["cgroup"], "cgroup")
    if cgroup is not None:
        _check_ranges(cgroup, "cgroup")
    cgroup_pids = _field(doc, "cgroup_pids", _dec_int_tuple)
    for i, pid in enumerate(cgroup_pids):
        if pid not in seen:
            raise _Bad(f"field 'cgroup_pids[{i}]': pid {_shown(pid)} has no entry in 'tasks'")
    cgroup_pids = _last_of_each(cgroup_pids, lambda p: p, "cgroup_pids", dropped)
    if cgroup is None and cgroup_pids:
        raise _Bad("field 'cgroup_pids': members listed but 'cgroup' is null")
    ancestors_doc = _field(doc, "cgroup_ancestors", _dec_list)
    ancestors = tuple(_decode_dc(MemcgLimits, a, f"cgroup_ancestors[{i}]") for i, a in enumerate(ancestors_doc))
    domain_pids: tuple[int, ...] | None = None
    if doc.get("domain_pids") is not None:
        domain_pids = _field(doc, "domain_pids", _dec_int_tuple)
        for i, pid in enumerate(domain_pids):
            if pid not in seen:
                raise _Bad(f"field 'domain_pids[{i}]': pid {_shown(pid)} has no entry in 'tasks'")
    for i, a in enumerate(ancestors):
        _check_ranges(a, f"cgroup_ancestors[{i}]")
    meminfo = _decode_dc(MemInfo, doc["meminfo"], "meminfo")
    _check_ranges(meminfo, "meminfo")
    _check_page_size(meminfo.page_size, "meminfo.page_size")
    sysctls = _decode_dc(VmSysctls, doc["sysctls"], "sysctls")
    _check_ranges(sysctls, "sysctls")

    groups_doc = _field(doc, "oom_groups", _dec_object)
    for k, v in groups_doc.items():
        if not isinstance(v, bool):
            raise _Bad(f"field 'oom_groups.{k}': expected true or false, got {_json_type(v)}")

    scores_doc = _field(doc, "oom_scores", _optional(_dec_object, "an object"))
    scores: dict[int, int] | None = None
    if scores_doc is not None:
        scores = {}
        for k, v in scores_doc.items():
            if not (k.isascii() and k.isdigit()):
                raise _Bad(f"field 'oom_scores.{k}': key is not a pid")
            if not _is_int(v):
                raise _Bad(f"field 'oom_scores.{k}': expected an integer, got {_json_type(v)}")
            if len(k) > 10 or not _PID[0] <= int(k) <= _PID[1]:
                raise _Bad(f"field 'oom_scores.{k[:20]}': key is not a pid")
            if not 0 <= v < 2**64:
                raise _Bad(f"field 'oom_scores.{k}': {_shown(v)} is out of range (0 .. {_shown(2**64 - 1)})")
            scores[int(k)] = v

    notes = doc["notes"]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _Bad("field 'notes': expected a list of strings")

    return Snapshot(
        taken_at=taken_at,
        hostname=_field(doc, "hostname", _dec_str),
        kernel_release=release,
        page_size=page_size,
        uptime_s=uptime,
        meminfo=meminfo,
        sysctls=sysctls,
        tasks=tasks,
        scan_order=scan_order,
        cgroup=cgroup,
        cgroup_pids=cgroup_pids,
        cgroup_ancestors=ancestors,
        domain_pids=domain_pids,
        oom_groups=dict(groups_doc),
        oom_scores=scores,
        unreadable=unreadable,
        notes=tuple(notes) + tuple(dropped),
    )


def _last_of_each(items: tuple[Any, ...], key: Callable[[Any], int], label: str, notes: list[str]) -> tuple[Any, ...]:
    """One entry per pid: a repeated one keeps its last occurrence (at that place), and a note says so."""
    last = {key(x): i for i, x in enumerate(items)}
    if len(last) == len(items):
        return items
    counts: dict[int, int] = {}
    for x in items:
        counts[key(x)] = counts.get(key(x), 0) + 1
    repeated = [p for p, n in counts.items() if n > 1]
    shown = ", ".join(f"{p} ({counts[p]}x)" for p in repeated[:10]) + (" ..." if len(repeated) > 10 else "")
    notes.append(f"'{label}' repeats pids {shown}: the last entry of each was kept")
    return tuple(x for i, x in enumerate(items) if last[key(x)] == i)
