"""Fixtures over the fake /proc and cgroupfs builders in ``proc_builders``."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import proc_builders


@pytest.fixture
def make_proc(tmp_path):  # type: ignore[no-untyped-def]
    """``make_proc(tasks=[FakeTask(...)], **options)`` -> root of a fake procfs tree."""
    return functools.partial(proc_builders.make_proc, tmp_path)


@pytest.fixture
def procfs(make_proc):  # type: ignore[no-untyped-def]
    """``procfs(tasks, **options)`` -> a ProcFS over a fake tree."""
    from oomlens.sources.procfs import ProcFS

    def build(tasks, **kw):  # type: ignore[no-untyped-def]
        return ProcFS(str(make_proc(tasks, **kw)))

    return build
