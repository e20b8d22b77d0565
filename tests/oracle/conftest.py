"""Fixtures for the kernel-oracle tests: skip (with the reason) only when no writable memory cgroup
can be created here or we are not root; check that every live test leaves nothing behind."""

from __future__ import annotations

import os

import pytest

from oomlens.errors import SelftestError
from oomlens.selftest import harness as selftest


def _leftovers(base: str) -> list[str]:
    prefix = f"{selftest.SANDBOX_PREFIX}{os.getpid()}-"
    return sorted(n for n in os.listdir(base) if n.startswith(prefix))


def _our_children() -> list[int]:
    me = str(os.getpid())
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", errors="replace") as f:  # hostile comms are not UTF-8
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[1] == me:
            out.append(int(pid))
    return out


@pytest.fixture(scope="session")
def memcg_base() -> str:
    """The memory hierarchy root, once we know a sandbox can be created in it."""
    try:
        with selftest.MemcgSandbox() as sb:
            path = sb.path
    except SelftestError as e:
        pytest.skip(f"kernel oracle unavailable: {e} ({e.hint})")
    return os.path.dirname(path)


@pytest.fixture
def memcg_oracle(memcg_base: str):
    """Use in every test that creates real cgroups or processes: it fails the test on leftovers."""
    children_before = set(_our_children())
    yield memcg_base
    assert _leftovers(memcg_base) == [], "cgroups left behind"
    assert set(_our_children()) - children_before == set(), "processes left behind"
