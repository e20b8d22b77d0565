"""Memory cgroups, v1 and v2: limits as the OOM killer sees them and the members it scans.

:class:`CgroupFS` is the only code that reads ``/sys/fs/cgroup``. It finds the v1 ``memory``
hierarchy (``<root>/memory`` on a hybrid system) and the cgroup2 mount (``<root>/unified``, or
``<root>`` itself on a pure v2 system) by looking at the files under ``root``; it never reads
``/proc/mounts`` (only :mod:`oomlens.sources.procfs` reads ``/proc``, and the global ``vm.swappiness`` that
v2 limits need comes through a :class:`~oomlens.sources.procfs.ProcFS`).

Paths: a cgroup is named the way ``/proc/PID/cgroup`` and the kernel's OOM report
(``oom-kill:...,oom_memcg=/foo``) name it, ``"/"`` for the root and ``"/a/b"`` below. Limits are
in pages, ``None`` meaning unlimited.

Standard library only.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from oomlens.errors import CgroupError, NoMemoryController
from oomlens.kernel.oom_kill import (
    mem_cgroup_get_oom_group,
    mem_cgroup_is_descendant,
    nearest_limited_memcg,
    parent_mem_cgroup,
)
from oomlens.kernel.types import LONG_MAX, MemcgLimits

__all__ = ["Cgroup", "CgroupFS", "is_descendant", "oom_group_target", "parent_of"]


@dataclass(frozen=True, slots=True)
class Cgroup:
    """A resolved memory cgroup.

    ``path`` as in ``/proc/PID/cgroup`` (``"/"`` = root), ``fs_path`` its directory, ``version``
    1 or 2, ``mount`` the directory of its hierarchy's root.
    """

    path: str
    fs_path: str
    version: int
    mount: str

    @property
    def is_root(self) -> bool:
        return self.path == "/"


# --- pure helpers over cgroup paths ------------------------------------------------------------


parent_of = parent_mem_cgroup
is_descendant = mem_cgroup_is_descendant


def oom_group_target(victim_cg: str, domain_cg: str | None,
                     oom_group: Mapping[str, bool] | Callable[[str], bool]) -> str | None:
    """The cgroup whose whole subtree is killed with the victim, per ``memory.oom.group``:
    :func:`oomlens.kernel.oom_kill.mem_cgroup_get_oom_group` on paths given in any accepted spelling
    (``oom_group`` keys / predicate arguments are canonical). cgroup v1 has no oom.group: callers
    return None there (``CgroupFS.oom_group_target`` does)."""
    return mem_cgroup_get_oom_group(_normalize(victim_cg), _normalize(domain_cg or "/"), oom_group)


def _normalize(path: str) -> str:
    """A cgroup path in canonical form; ``..`` is refused (it could leave the hierarchy)."""
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        raise CgroupError(path, f"bad cgroup path {path!r}: '..' is not allowed")
    return "/" + "/".join(parts)


# --- reader ------------------------------------------------------------------------------------


def _read_text(path: str) -> str | None:
    """File contents, or None when the file does not exist (interface absent on this kernel).

    The one place where cgroupfs ``OSError`` becomes an oomlens error."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "backslashreplace")
    except FileNotFoundError:
        return None
    except PermissionError:
        raise CgroupError(path, f"permission denied reading {path}", hint="run as root") from None
    except OSError as exc:  # ENODEV: the cgroup was removed while we read it
        raise CgroupError(path, f"cannot read {path}: {exc.strerror or exc}") from None


class CgroupFS:
    """Reader of the cgroup filesystems under ``root`` (default ``/sys/fs/cgroup``).

    ``procfs`` supplies the global ``vm.swappiness`` (v2 has no per-cgroup swappiness); a default
    :class:`~oomlens.sources.procfs.ProcFS` is made when needed. ``page_size`` defaults to the procfs's.
    """

    def __init__(self, root: str = "/sys/fs/cgroup", *, procfs: object | None = None,
                 page_size: int | None = None) -> None:
        self.root = os.path.abspath(root)
        self._procfs = procfs
        self.page_size = page_size or int(getattr(procfs, "page_size", 0) or os.sysconf("SC_PAGE_SIZE"))
        self.v1_memory: str | None = None
        """Directory of the cgroup-v1 hierarchy with the memory controller (None if absent)."""
        self.v2: str | None = None
        """Directory of the cgroup2 mount (None if absent)."""
        self.v1_other: list[str] = []
        """Directories of the other cgroup-v1 hierarchies (no memory controller)."""
        self._discover()

    def __repr__(self) -> str:
        return f"CgroupFS({self.root!r})"

    def _discover(self) -> None:
        root = self.root
        if os.path.exists(f"{root}/cgroup.controllers"):
            self.v2 = root  # pure cgroup2 at the root
            return
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            d = e.path
            if not e.is_dir():
                continue
            if os.path.exists(f"{d}/cgroup.controllers"):
                self.v2 = self.v2 or d
            elif os.path.exists(f"{d}/memory.limit_in_bytes"):
                if self.v1_memory is None or e.name == "memory":
                    if self.v1_memory is not None:
                        self.v1_other.append(self.v1_memory)
                    self.v1_memory = d
            elif os.path.exists(f"{d}/cgroup.procs"):
                self.v1_other.append(d)

    # --- resolving -----------------------------------------------------------------------------

    def resolve(self, path: str | Cgroup) -> Cgroup:
        """A memory cgroup from a filesystem path (``/sys/fs/cgroup/memory/foo``,
        ``/sys/fs/cgroup/unified/foo``, ``/sys/fs/cgroup/foo`` on pure v2) or from the path shown
        in ``/proc/PID/cgroup`` (``/foo/bar``, looked up in the v1 memory hierarchy, else in v2).

        Raises CgroupError when it does not exist, NoMemoryController when it exists but has no
        memory controller (a v2 cgroup whose parent does not enable ``memory``, a v1 hierarchy of
        another controller).
        """
        if isinstance(path, Cgroup):
            return path
        raw = os.fspath(path)
        if raw == self.root or raw.startswith(self.root + "/"):
            return self._resolve_fs(raw)
        rel = _normalize(raw)
        if self.v1_memory is not None and os.path.isdir(self.v1_memory + _suffix(rel)):
            return Cgroup(rel, self.v1_memory + _suffix(rel), 1, self.v1_memory)
        if self.v2 is not None and os.path.isdir(self.v2 + _suffix(rel)):
            return self._check_v2(Cgroup(rel, self.v2 + _suffix(rel), 2, self.v2))
        where = " or ".join(d for d in (self.v1_memory, self.v2) if d) or f"{self.root} (no cgroup mounts found)"
        raise CgroupError(raw, f"no such cgroup: {raw} (looked under {where})")

    def _resolve_fs(self, raw: str) -> Cgroup:
        fs = posixpath.normpath(raw)
        if not (fs == self.root or fs.startswith(self.root + "/")):
            raise CgroupError(raw, f"bad cgroup path {raw!r}: outside {self.root}")
        mounts = [(m, v) for m, v in ((self.v1_memory, 1), (self.v2, 2)) if m is not None]
        mounts += [(m, 0) for m in self.v1_other]
        # the longest mount that contains fs (pure v2 has its mount at the root itself)
        best: tuple[str, int] | None = None
        for m, v in mounts:
            if (fs == m or fs.startswith(m + "/")) and (best is None or len(m) > len(best[0])):
                best = (m, v)
        if not os.path.isdir(fs):
            raise CgroupError(raw, f"no such cgroup: {raw}")
        if best is None:
            raise CgroupError(raw, f"{raw} is not inside a cgroup hierarchy")
        mount, version = best
        if version == 0:
            raise NoMemoryController(raw)
        rel = _normalize(fs[len(mount):])
        cg = Cgroup(rel, fs, version, mount)
        return self._check_v2(cg) if version == 2 else cg

    def _check_v2(self, cg: Cgroup) -> Cgroup:
        """A v2 cgroup has the memory controller when its ``cgroup.controllers`` lists it (the
        root lists what is bound to v2 at all); ``memory.max`` is the fallback evidence."""
        controllers = _read_text(f"{cg.fs_path}/cgroup.controllers")
        if controllers is not None and "memory" in controllers.split():
            return cg
        if not cg.is_root and os.path.exists(f"{cg.fs_path}/memory.max"):
            return cg
        raise NoMemoryController(cg.fs_path)

    def memcg_of(self, pid: int) -> Cgroup:
        """The memory cgroup of a process, from ``/proc/PID/cgroup``."""
        cgs = self._get_procfs().read_cgroup_of(pid)  # type: ignore[attr-defined]
        if self.v1_memory is not None and cgs.v1_memory is not None:
            return self.resolve(cgs.v1_memory)
        if cgs.v2 is not None:
            rel = _normalize(cgs.v2)
            if self.v2 is None:
                raise CgroupError(cgs.v2, f"pid {pid} is in cgroup2 {cgs.v2} but no cgroup2 mount is under {self.root}")
            return self._check_v2(Cgroup(rel, self.v2 + _suffix(rel), 2, self.v2))
        raise NoMemoryController(f"/proc/{pid}/cgroup")

    # --- limits --------------------------------------------------------------------------------

    def _get_procfs(self) -> object:
        if self._procfs is None:
            from oomlens.sources.procfs import ProcFS

            self._procfs = ProcFS()
        return self._procfs

    def _bytes_to_pages(self, text: str | None, what: str) -> int | None:
        """A limit file -> pages; None when unlimited (``max`` in v2; in v1 the page-counter
        maximum, ``PAGE_COUNTER_MAX * PAGE_SIZE`` = 9223372036854771712 with 4 KiB pages) or absent."""
        if text is None:
            return None
        text = text.strip()
        if text == "max":
            return None
        pages = self._int(text, what) // self.page_size
        return None if pages >= LONG_MAX // self.page_size else pages

    def limits(self, cg: str | Cgroup, *, global_swappiness: int | None = None) -> MemcgLimits:
        """``MemcgLimits`` of one cgroup, as ``mem_cgroup_get_max()`` reads them (pages).

        v1: memory.limit_in_bytes, memory.memsw.limit_in_bytes (None without swap accounting),
        memory.swappiness, memory.usage_in_bytes, memory.oom_control's ``oom_kill_disable``.
        v2: memory.max, memory.swap.max, memory.oom.group, memory.current, and the global
        vm.swappiness (``mem_cgroup_swappiness()`` returns it on v2).

        With hierarchical accounting (v1 use_hierarchy=1, always on v2) an allocation is also
        bounded by every ancestor's limit; the OOM then happens in the ancestor whose limit was
        hit. This reads only the cgroup asked for; see :meth:`ancestor_limits`.
        """
        cg = self.resolve(cg)
        d = cg.fs_path
        if not os.path.isdir(d):
            raise CgroupError(cg.path, f"no such cgroup: {cg.path} (removed?)")
        if cg.version == 1:
            swappiness_text = _read_text(f"{d}/memory.swappiness")
            oom_control = _read_text(f"{d}/memory.oom_control") or ""
            return MemcgLimits(
                path=cg.path,
                version=1,
                memory_max=self._bytes_to_pages(_read_text(f"{d}/memory.limit_in_bytes"), f"{d}/memory.limit_in_bytes"),
                memsw_max=self._bytes_to_pages(_read_text(f"{d}/memory.memsw.limit_in_bytes"),
                                               f"{d}/memory.memsw.limit_in_bytes"),
                swappiness=self._int(swappiness_text, f"{d}/memory.swappiness") if swappiness_text
                else self._global_swappiness(global_swappiness),
                usage=self._usage(f"{d}/memory.usage_in_bytes"),
                oom_kill_disable="oom_kill_disable 1" in oom_control,
            )
        return MemcgLimits(
            path=cg.path,
            version=2,
            memory_max=self._bytes_to_pages(_read_text(f"{d}/memory.max"), f"{d}/memory.max"),
            swap_max=self._bytes_to_pages(_read_text(f"{d}/memory.swap.max"), f"{d}/memory.swap.max"),
            swappiness=self._global_swappiness(global_swappiness),
            oom_group=(_read_text(f"{d}/memory.oom.group") or "0").strip() == "1",
            usage=self._usage(f"{d}/memory.current"),
        )

    def _usage(self, path: str) -> int | None:
        text = _read_text(path)
        return None if text is None else self._int(text, path) // self.page_size

    @staticmethod
    def _int(text: str, path: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise CgroupError(path, f"cannot parse {path}: {text.strip()!r}") from None

    def _global_swappiness(self, given: int | None) -> int:
        if given is not None:
            return given
        return int(self._get_procfs().read_sysctls().swappiness)  # type: ignore[attr-defined]

    def ancestors(self, cg: str | Cgroup) -> tuple[Cgroup, ...]:
        """The cgroup's ancestors in the same hierarchy, parent first, root last."""
        cg = self.resolve(cg)
        out = []
        p = parent_of(cg.path)
        while p is not None:
            out.append(Cgroup(p, cg.mount + _suffix(p), cg.version, cg.mount))
            p = parent_of(p)
        return tuple(out)

    def ancestor_limits(self, cg: str | Cgroup, *, global_swappiness: int | None = None) -> tuple[MemcgLimits, ...]:
        """``limits()`` of every ancestor, parent first (the limits a hierarchical OOM can hit)."""
        cg = self.resolve(cg)
        if global_swappiness is None and cg.version == 2:
            global_swappiness = self._global_swappiness(None)
        return tuple(self.limits(a, global_swappiness=global_swappiness) for a in self.ancestors(cg))

    def limited_domain_of(self, pid: int) -> tuple[Cgroup, MemcgLimits] | None:
        """The memory cgroup of ``pid`` and the nearest limits a memcg OOM would hit there (its own, else the
        closest ancestor's), or None when neither it nor an ancestor has a limit (then only a global OOM)."""
        cg = self.memcg_of(pid)
        limited = nearest_limited_memcg((self.limits(cg), *self.ancestor_limits(cg)))
        return None if limited is None else (cg, limited)

    # --- members -------------------------------------------------------------------------------

    def member_pids(self, cg: str | Cgroup) -> list[tuple[int, str]]:
        """``(pid, cgroup path)`` of every process in the subtree, in the memcg OOM scan order.

        ``mem_cgroup_scan_tasks()`` walks the memcg tree in pre-order (``for_each_mem_cgroup_tree``)
        and each cgroup's processes in css_set order. Children are visited in creation order, which
        is taken from the directories' inode numbers (kernfs allocates them increasingly).
        Within one cgroup: v2 ``cgroup.procs`` lists processes in the kernel's iteration order;
        v1 ``cgroup.procs`` is SORTED by pid by the kernel (``pidlist_array_load``), so within a
        v1 cgroup this order is not the kernel's scan order. A cgroup removed during the walk is
        skipped.
        """
        cg = self.resolve(cg)
        out: list[tuple[int, str]] = []
        for d, path in self._walk(cg):
            text = _read_text_quiet(f"{d}/cgroup.procs")
            if text is None:
                continue
            seen = set()
            for tok in text.split():
                pid = int(tok)
                if pid and pid not in seen:  # 0: not visible in our pid namespace
                    seen.add(pid)
                    out.append((pid, path))
        return out

    def _walk(self, cg: Cgroup) -> Iterator[tuple[str, str]]:
        """``(directory, cgroup path)`` of ``cg`` and its descendants in pre-order, children in
        creation order (kernfs inode numbers increase with creation)."""
        stack = [(cg.fs_path, cg.path)]
        while stack:
            d, path = stack.pop()
            yield d, path
            children = []
            try:
                with os.scandir(d) as it:
                    for e in it:
                        if e.is_dir(follow_symlinks=False):
                            children.append((e.inode(), e.name))
            except OSError:
                continue  # removed meanwhile
            children.sort()
            for _ino, name in reversed(children):  # a stack: push the last child first
                stack.append((f"{d}/{name}", path.rstrip("/") + "/" + name))

    def oom_group_flags(self, cg: str | Cgroup) -> dict[str, bool]:
        """{path: True} for every cgroup with ``memory.oom.group`` = 1 in the subtree of ``cg`` and
        among its ancestors (cgroup v2 only; v1 has no oom.group and gives {})."""
        cg = self.resolve(cg)
        if cg.version != 2:
            return {}
        dirs = [(d, p) for d, p in self._walk(cg)]
        dirs += [(a.fs_path, a.path) for a in self.ancestors(cg)]
        return {p: True for d, p in dirs
                if p != "/" and (_read_text_quiet(f"{d}/memory.oom.group") or "0").strip() == "1"}

    def oom_group_target(self, victim_cg: str | Cgroup, domain_cg: str | Cgroup | None = None) -> str | None:
        """:func:`oom_group_target` with the ``memory.oom.group`` flags read from this tree.
        cgroup v1 has no oom.group: always None there."""
        victim = self.resolve(victim_cg)
        if victim.version != 2:
            return None
        domain = self.resolve(domain_cg).path if domain_cg is not None else "/"

        def flag(path: str) -> bool:
            return (_read_text(f"{victim.mount}{_suffix(path)}/memory.oom.group") or "0").strip() == "1"

        return oom_group_target(victim.path, domain, flag)


def _suffix(path: str) -> str:
    """Cgroup path -> suffix to append to a mount directory (``"/"`` -> ``""``)."""
    return "" if path == "/" else path


def _read_text_quiet(path: str) -> str | None:
    """Like ``_read_text`` but a cgroup that vanished (ENOENT/ENODEV) also reads as None."""
    try:
        return _read_text(path)
    except CgroupError:
        return None


# --- mounts (/proc/self/mountinfo) ------------------------------------------------------------
# The cgroup hierarchies as mounted, wherever they are (a container or a VM may mount them elsewhere than
# /sys/fs/cgroup), and the path the kernel prints for a cgroup directory (oom_memcg=, /proc/PID/cgroup).


@dataclass(frozen=True, slots=True)
class Mount:
    """One mountinfo line: where it is mounted, its root inside its filesystem, type and super options."""

    mountpoint: str
    root: str          # the mount's root inside its filesystem (field 4 of mountinfo)
    fstype: str
    superopts: frozenset[str]


def _unescape_octal(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), s)


def mounts(mountinfo: str = "/proc/self/mountinfo") -> list[Mount]:
    """Every mount of this mount namespace (an unreadable mountinfo gives none)."""
    text = _read_text_quiet(mountinfo) or ""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        if len(lf) < 5 or len(rf) < 3:
            continue
        out.append(Mount(_unescape_octal(lf[4]), _unescape_octal(lf[3]), rf[0], frozenset(rf[2].split(","))))
    return out


def mount_of(path: str) -> Mount | None:
    """The mount a path lives on (the longest mountpoint that contains it)."""
    path = os.path.realpath(path)
    best = None
    for m in mounts():
        mp = m.mountpoint.rstrip("/") or "/"
        if path == mp or path.startswith(mp.rstrip("/") + "/"):
            if best is None or len(mp) >= len(best.mountpoint):
                best = m
    return best


def v2_has_memory(path: str) -> bool:
    """Whether a cgroup2 directory has the memory controller (``cgroup.controllers`` lists it)."""
    text = _read_text_quiet(os.path.join(path, "cgroup.controllers"))
    return text is not None and "memory" in text.split()


def kernel_cgroup_path(fs_path: str) -> str:
    """``/sys/fs/cgroup/memory/a/b`` -> ``/a/b``: the path the kernel prints (oom_memcg=, /proc/PID/cgroup)."""
    m = mount_of(fs_path)
    if m is None:
        return "/" + os.path.basename(fs_path)
    rel = os.path.relpath(os.path.realpath(fs_path), m.mountpoint)
    rel = "" if rel == "." else rel
    return os.path.normpath(os.path.join(m.root, rel))
