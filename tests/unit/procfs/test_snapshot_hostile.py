"""Issue 7.6 / 7.7: snapshots are input too. Every field is range-checked with its JSON path (exit 5);
nesting, number length and file size are bounded before or while parsing; a pid listed twice keeps its
last entry with a note (in `tasks` and in `cgroup_pids`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_snapshot import _doc

from oomlens.cli.main import cli
from oomlens.errors import SnapshotError
from oomlens.sources.live import load_snapshot


def _write(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "s.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _load(tmp_path: Path, doc: object):
    return load_snapshot(_write(tmp_path, doc))


def test_deep_nesting_is_refused_before_parsing(tmp_path):
    with pytest.raises(SnapshotError, match="nested more than 16 levels"):
        _load(tmp_path, "[" * 100_000)
    doc = json.dumps(_doc()).replace('"notes": ["n1", "n2"]', '"notes": ' + "[" * 50_000 + "]" * 50_000)
    with pytest.raises(SnapshotError, match="nested more than 16 levels"):
        _load(tmp_path, doc)


def test_brackets_inside_strings_do_not_count(tmp_path):
    doc = _doc()
    doc["hostname"] = "[" * 40 + '\\"{' * 40
    assert _load(tmp_path, doc).hostname == doc["hostname"]


def test_a_5000_digit_integer_is_a_snapshot_error(tmp_path):
    text = json.dumps(_doc()).replace('"unreadable": 2', '"unreadable": ' + "7" * 5000)
    with pytest.raises(SnapshotError, match="not a usable JSON document"):
        _load(tmp_path, text)


def test_a_file_above_the_size_limit_is_refused(tmp_path, monkeypatch):
    import oomlens.kernel.snapshot as snapshot_mod
    import oomlens.sources.live as live_mod

    p = _write(tmp_path, _doc())
    monkeypatch.setattr(snapshot_mod, "MAX_BYTES", 100)
    monkeypatch.setattr(live_mod, "MAX_BYTES", 100)
    with pytest.raises(SnapshotError, match="larger than"):
        load_snapshot(p)


@pytest.mark.parametrize("path, value, message", [
    (("tasks", 1, "rss_anon"), -5, r"'tasks\[1\]\.rss_anon': -5 is out of range"),
    (("tasks", 1, "swapents"), 2**64, r"'tasks\[1\]\.swapents': 18446744073709551616 is out of range"),
    (("tasks", 1, "oom_score_adj"), 2**64, r"'tasks\[1\]\.oom_score_adj': 18446744073709551616 is out of range "
                                           r"\(-1000 \.\. 1000\)"),
    (("tasks", 1, "oom_score_adj"), 1001, r"'tasks\[1\]\.oom_score_adj': 1001 is out of range"),
    (("tasks", 0, "pid"), 0, r"'tasks\[0\]\.pid': 0 is out of range"),
    (("tasks", 0, "children"), [7, -1], r"'tasks\[0\]\.children\[1\]': -1 is out of range"),
    (("tasks", 0, "start_time_s"), -1.0, r"'tasks\[0\]\.start_time_s': -1.0 is not a time"),
    (("meminfo", "totalram_pages"), 0, r"'meminfo\.totalram_pages': 0 is out of range"),
    (("meminfo", "totalram_pages"), -4096, r"'meminfo\.totalram_pages': -4096 is out of range"),
    (("meminfo", "page_size"), 1024, r"'meminfo\.page_size': 1024 is not a power of two from 4096"),
    (("page_size",), 2**64, r"'page_size': 18446744073709551616 is not a power of two"),
    (("page_size",), 0, r"'page_size': 0 is not a power of two"),
    (("page_size",), 2048, r"'page_size': 2048 is not a power of two from 4096"),
    (("cgroup", "version"), 7, r"'cgroup\.version': 7 is out of range \(1 \.\. 2\)"),
    (("cgroup", "memory_max"), -1, r"'cgroup\.memory_max': -1 is out of range"),
    (("cgroup_ancestors", 0, "swappiness"), 201, r"'cgroup_ancestors\[0\]\.swappiness': 201 is out of range"),
    (("sysctls", "panic_on_oom"), 3, r"'sysctls\.panic_on_oom': 3 is out of range"),
    (("unreadable",), -1, r"'unreadable': -1 is out of range"),
    (("oom_scores",), {"7": -1}, r"'oom_scores\.7': -1 is out of range"),
    (("oom_scores",), {"99999999999999": 1}, r"'oom_scores\.99999999999999': key is not a pid"),
    (("uptime_s",), -3.0, r"'uptime_s': -3.0 is not an uptime"),
    (("kernel_release",), "1.2.3", r"'kernel_release': '1.2.3' is not a Linux release"),
    (("kernel_release",), "banana", r"'kernel_release': 'banana' is not a Linux release"),
    (("kernel_release",), "4294967296.13.0", r"'kernel_release': '4294967296.13.0' is not a Linux release"),
])
def test_out_of_range_field_names_its_path(tmp_path, path, value, message):
    doc = _doc()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(SnapshotError, match=message):
        _load(tmp_path, doc)


@pytest.mark.parametrize("field, literal", [("uptime_s", "NaN"), ("uptime_s", "Infinity"), ("uptime_s", "-Infinity")])
def test_nan_and_inf_times(tmp_path, field, literal):
    text = json.dumps(_doc()).replace('"uptime_s": 12.5', f'"uptime_s": {literal}')
    assert literal in text
    with pytest.raises(SnapshotError, match="'uptime_s'"):
        _load(tmp_path, text)
    doc = _doc()
    doc["tasks"][0]["start_time_s"] = 0.5
    text = json.dumps(doc).replace('"start_time_s": 0.5', f'"start_time_s": {literal}')
    with pytest.raises(SnapshotError, match=r"'tasks\[0\]\.start_time_s'"):
        _load(tmp_path, text)


def test_cli_exit_codes_are_5_not_2(tmp_path):
    doc = _doc()
    doc["kernel_release"] = "1.2.3"
    r = CliRunner().invoke(cli, ["top", "--json", "--snapshot", str(_write(tmp_path, doc))])
    assert r.exit_code == 5 and "kernel_release" in r.output and "hint:" in r.output
    r = CliRunner().invoke(cli, ["top", "--json", "--snapshot", str(_write(tmp_path, "[" * 100_000))])
    assert r.exit_code == 5 and "Traceback" not in r.output


def test_duplicate_task_pid_keeps_the_last_entry_with_a_note(tmp_path):
    doc = _doc()
    dup = dict(doc["tasks"][1], rss_anon=999)  # a second pid-7 entry, later: it wins
    doc["tasks"].append(dup)
    snap = _load(tmp_path, doc)
    assert [t.pid for t in snap.tasks] == [1, 7]
    assert snap.task(7).rss_anon == 999
    assert any("'tasks' repeats pids 7 (2x)" in n for n in snap.notes)


def test_duplicate_cgroup_pid_lists_the_task_once(tmp_path):
    doc = _doc()
    doc["cgroup_pids"] = [7, 7, 7]
    p = _write(tmp_path, doc)
    snap = load_snapshot(p)
    assert snap.cgroup_pids == (7,) and any("'cgroup_pids' repeats pids 7 (3x)" in n for n in snap.notes)
    r = CliRunner().invoke(cli, ["top", "--json", "--all", "--snapshot", str(p)])
    assert r.exit_code == 0, r.output
    assert [t["pid"] for t in json.loads(r.stdout)["tasks"]] == [7]
