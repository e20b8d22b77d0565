"""Synthetic reports (``tests/data/oomreport/synthetic``) built from the formats of spec 6 to
cover what the public corpus does not: 4.19 ``Tasks state`` with overflowing pids and names with
spaces/brackets/colons, a journal multi-line memory.stat record, memory.oom.group multi-kill with a
duplicated victim line and an exiting member, oom_kill_allocating_task, sysrq with ``dmesg -T``,
no killable processes + panic in ``/dev/kmsg`` format, a stand-alone "already exiting" line,
2.6.25 ``oomkilladj`` with ``pages of RAM``, a vendor ``nr_puds`` header with printk levels and
caller ids, RFC 5424 with rsyslog ``#012``, a markdown issue, a ratelimited burst, grep context
with ``--`` and duplicated rows, 2.6.11, the ``vsz:`` kill line, the split early-5.0 summary,
``sharing same memory``, ``has mm pinned``, and noise that imitates OOM lines."""

from __future__ import annotations

import os

import pytest
from oomreport_expect import check_file, expected_paths

from oomlens.oomreport import iter_events
from oomlens.sources.kernellog import iter_chunks, iter_file_events

EXPECTED = expected_paths("synthetic")


def test_synthetic_set_is_complete() -> None:
    assert len(EXPECTED) >= 19


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: os.path.basename(p)[:3])
def test_synthetic_file(path: str) -> None:
    check_file("synthetic", path)


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: os.path.basename(p)[:3])
def test_synthetic_same_result_any_way_it_is_read(path: str) -> None:
    log = path.replace(".expected.json", ".log")
    ref = [e.to_dict() for e in iter_file_events(log)]
    assert [e.to_dict() for e in iter_events(iter_chunks(log, 3), log)] == ref
    assert [e.to_dict() for e in iter_events(iter_chunks(log), log, scan_all=True)] == ref
