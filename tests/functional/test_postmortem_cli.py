"""Issue 8.8 / 8.11 / 8.13: one bad input does not sink the others (grep-like), valid JSON always,
stdin read when piped with no FILE, --since validated and never silently ignored, an end-of-run tally."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from oomlens.cli.main import cli

CORPUS = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "corpus"
GOOD = str(CORPUS / "008-readme-cgroup-stress-memcg.log")  # one event, agrees (T 25600, score 972)


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_json_good_then_missing_is_valid_and_exits_7(tmp_path):
    missing = str(tmp_path / "missing.log")
    r = run("postmortem", "--json", GOOD, missing)
    assert r.exit_code == 7
    doc = json.loads(r.stdout)
    assert [e["source"] for e in doc["events"]] == [GOOD]
    assert doc["sources"] == [
        {"path": GOOD, "events": 1, "error": None, "hint": None},
        {"path": missing, "events": 0, "error": f"{missing}: no such file", "hint": "check the path; use '-' for stdin"},
    ]
    assert doc["summary"]["events"] == 1 and doc["summary"]["agrees"] == 1
    err = r.stderr.splitlines()
    assert err == [f"oomlens: error: {missing}: no such file", "  hint: check the path; use '-' for stdin"]


def test_missing_first_still_reads_the_good_file(tmp_path):
    missing = str(tmp_path / "missing.log")
    r = run("postmortem", missing, GOOD)
    assert r.exit_code == 7
    assert "verdict: agrees" in r.stdout and "no such file" in r.stderr
    assert "1 unreadable" in r.stdout


def test_corrupt_gzip_after_a_good_file(tmp_path):
    bad = tmp_path / "bad.log.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    r = run("postmortem", "--json", GOOD, str(bad))
    assert r.exit_code == 7
    doc = json.loads(r.stdout)
    assert len(doc["events"]) == 1 and doc["sources"][1]["error"] and doc["sources"][1]["hint"]


def test_directory_is_reported_and_skipped(tmp_path):
    r = run("postmortem", "--json", str(tmp_path), GOOD)
    assert r.exit_code == 7 and len(json.loads(r.stdout)["events"]) == 1 and "is a directory" in r.stderr


def test_no_file_and_a_pipe_reads_stdin():
    with open(GOOD, "rb") as f:
        p = subprocess.run([sys.executable, "-m", "oomlens", "postmortem", "--json"], stdin=f,
                           capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert len(doc["events"]) == 1 and doc["events"][0]["verdict"] == "agrees"
    assert doc["sources"] == [{"path": "-", "events": 1, "error": None, "hint": None}]
    # a real pipe too
    p = subprocess.run(f"cat {GOOD} | {sys.executable} -m oomlens postmortem", shell=True, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "1 OOM event in -: 1 agree, 0 disagree, 0 undecidable" in p.stdout


def test_since_garbage_is_a_usage_error():
    r = run("postmortem", "--since", "garbage")
    assert r.exit_code == 2 and "not a time" in r.output


def test_since_with_a_file_is_refused_not_ignored():
    r = run("postmortem", "--since", "-1h", GOOD)
    assert r.exit_code == 2 and "cannot filter FILE" in r.output


def test_since_accepts_journalctl_forms():
    from oomlens.cli.postmortem_cmd import _SINCE

    for ok in ("today", "yesterday", "-2h", "3 days ago", "2024-05-01", "2024-05-01 10:00", "2024-05-01 10:00:05",
               "@1700000000", "10:30"):
        assert _SINCE.match(ok), ok
    for bad in ("garbage", "2024-5-1x", "1.2.3", "; rm -rf /", ""):
        assert not _SINCE.match(bad), bad


def test_a_reader_exception_is_reported_as_internal_and_the_rest_is_read(tmp_path, monkeypatch):
    import oomlens.sources.kernellog as kernellog

    real = kernellog.iter_file_events

    def flaky(path):
        if path.endswith("bad.log"):
            raise OverflowError("int too large to convert to float")
        yield from real(path)

    monkeypatch.setattr(kernellog, "iter_file_events", flaky)
    bad = tmp_path / "bad.log"
    bad.write_text("x\n")
    r = run("postmortem", "--json", str(bad), GOOD)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert len(doc["events"]) == 1 and doc["sources"][1]["error"] is None
    assert "internal error while reading it (OverflowError" in doc["sources"][0]["error"]
