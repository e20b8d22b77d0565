"""Findings of a hostile-input campaign (digits int() takes but no kernel prints, unusable task-table rows,
impossible pids, damaged compressed files, exceptions outside the error hierarchy): each input gives an
answer that says what it could not use, never a traceback or a silent wrong answer."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_postmortem import report68

from oomlens.analysis.postmortem import _nodes, analyze_events
from oomlens.cli.main import cli
from oomlens.oomreport import parse_text

CORPUS = Path(__file__).parents[1] / "data" / "oomreport" / "corpus"
LOG010 = (CORPUS / "010-notes-qemu-6.11-stress-ng.log").read_text()
GLOBAL = report68([(10, 500), (11, 900), (12, 700)], 11)


def analyze(text: str) -> list[dict]:
    out = [a.to_dict() for a in analyze_events(parse_text(text), strict=True)]
    json.dumps(out)
    return out


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), input=input, env=env)


# --- digits that str.isdigit() accepts and int() refuses (or reads as ASCII) -----------------------------

def test_superscript_pid_in_the_summary_line_loses_no_event(tmp_path: Path) -> None:
    bad = ("[  100.000000] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
           "global_oom,task_memcg=/,task=x,pid=\u00b2,uid=0\n")
    f = tmp_path / "x.log"
    f.write_text(LOG010 + bad)
    r = run("postmortem", "--json", str(f))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["events"][0]["kernel_victim"]["pid"] == 116 and doc["events"][0]["verdict"] == "agrees"
    assert doc["sources"][0]["error"] is None
    last = doc["events"][-1]
    assert last["kernel_victim"] is None  # "pid=²" is no pid: not read as one


def test_arabic_indic_digits_are_not_a_pid() -> None:
    text = "[  100.000000] Out of memory: Killed process \u0661\u0662 (java) total-vm:8kB, anon-rss:4kB, file-rss:0kB, " \
           "shmem-rss:0kB\n"
    evs = list(parse_text(text))
    assert all(e.victim_pid != 12 for e in evs)


def test_superscript_snapshot_key_is_a_bad_snapshot(tmp_path: Path) -> None:
    r = run("snapshot", "--proc", "/proc", "-o", str(tmp_path / "s.json"))
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["oom_scores"] = {"\u00b2": 5}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    r = run("top", "--snapshot", str(tmp_path / "s.json"))
    assert r.exit_code == 5
    assert "oom_scores.\u00b2" in r.stderr and "hint:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("var", ["COLUMNS", "LINES"])
def test_superscript_terminal_size_is_ignored(tmp_path: Path, var: str) -> None:
    assert run("snapshot", "-o", str(tmp_path / "s.json")).exit_code == 0
    r = run("top", "--snapshot", str(tmp_path / "s.json"), env={var: "\u00b2"})
    assert r.exit_code == 0 and "next victim" in r.stdout


def test_superscript_user_in_a_policy_is_a_name_not_a_uid() -> None:
    from types import SimpleNamespace

    from oomlens.policy.rules import parse_policy

    pol = parse_policy('[[rule]]\nname = "x"\nmatch.user = "\u00b2"\nadj = 0\n', "p.toml")
    match = pol.rules[0].match
    assert match(SimpleNamespace(pid=5, comm="a", uid=2, user="\u00b2"))  # the user named "²"
    assert not match(SimpleNamespace(pid=5, comm="a", uid=2, user="bob"))  # not uid 2


def test_node_masks_no_kernel_has_are_unknown_not_giant() -> None:
    assert _nodes("0-3,5") == {0, 1, 2, 3, 5}
    assert _nodes("0-99999999999") is None  # was a set of 10**11 ints
    assert _nodes("\u00b2") is None and _nodes("3-1") is None


# --- task-table rows that cannot be used ----------------------------------------------------------------

def test_victim_row_that_does_not_fit_the_header_is_undecidable_not_disagrees() -> None:
    text = LOG010.replace(" 1995298  1995157      141 ", " 1995298  abc      141 ", 1)
    assert text != LOG010
    (d,) = analyze(text)
    assert d["verdict"] == "undecidable" and "incomplete" in d["reason"]
    assert any("does not fit the header" in n and "incomplete" in n for n in d["notes"])


def test_other_row_that_does_not_fit_the_header_is_undecidable_not_agrees() -> None:
    (d,) = analyze(GLOBAL.replace("  700      700 ", "  700      x7 ", 1))
    assert d["verdict"] == "undecidable" and "incomplete" in d["reason"]


def test_row_with_pid_minus_one_is_not_skipped_silently() -> None:
    (d,) = analyze(GLOBAL.replace("[     12]", "[     -1]", 1))
    assert d["verdict"] == "undecidable" and "pid -1" in d["reason"]


# --- pids no kernel prints in kill and selection lines --------------------------------------------------

@pytest.mark.parametrize("pid", ["-42", "0", "4194304", "4294967296"])
def test_impossible_kill_line_pid_is_not_the_kernels_victim(pid: str) -> None:
    (d,) = analyze(GLOBAL.replace("Killed process 11 (p11)", f"Killed process {pid} (p11)"))
    assert d["verdict"] != "agrees" or d["model_victim"]["pid"] == 11
    assert any(f"pid {pid} is not a pid a kernel prints" in n for n in d["notes"])


def test_largest_pid_a_kernel_prints_is_accepted() -> None:
    text = GLOBAL.replace("[     11]     0    11", "[4194303]     0 4194303").replace("pid=11,", "pid=4194303,") \
        .replace("Killed process 11 ", "Killed process 4194303 ")
    (d,) = analyze(text)
    assert d["kernel_victim"]["pid"] == 4194303 and d["verdict"] == "agrees"


def test_negative_selection_pid_and_score_are_not_used() -> None:
    (d,) = analyze("[  100.000000] Out of memory: Kill process -9 (java) score -3 or sacrifice child\n")
    assert d["verdict"] == "undecidable"
    assert any("pid -9 is not a pid a kernel prints" in n for n in d["notes"])


def test_kill_line_adj_and_pgtables_out_of_range_are_noted() -> None:
    text = GLOBAL.replace("pgtables:4kB oom_score_adj:0", "pgtables:-40kB oom_score_adj:-5000")
    (d,) = analyze(text)
    assert any("pgtables_kb" in n and "oom_score_adj" in n and "not kernel values" in n for n in d["notes"])


# --- damaged compressed files ---------------------------------------------------------------------------

def _all_corpus() -> bytes:
    return b"".join(p.read_bytes() for p in sorted(CORPUS.glob("*.log")))


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress])
def test_truncated_compressed_log_keeps_the_events_before_the_damage(tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "all.log"
    plain.write_bytes(_all_corpus())
    whole = json.loads(run("postmortem", "--json", str(plain)).stdout)["summary"]["events"]
    cut = tmp_path / "all.log.z"
    cut.write_bytes(compress(plain.read_bytes())[:-20])
    r = run("postmortem", "--json", str(cut))
    assert r.exit_code == 7
    doc = json.loads(r.stdout)
    assert whole - 1 <= doc["summary"]["events"] <= whole and whole > 15
    assert doc["sources"][0]["error"] and doc["sources"][0]["events"] == doc["summary"]["events"]
    assert r.stderr.count("\n") == 2 and "hint:" in r.stderr


def test_trailing_garbage_after_a_gzip_member(tmp_path: Path) -> None:
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(LOG010.encode()) + b"garbage\n")
    r = run("postmortem", str(f))
    assert r.exit_code == 7
    assert "1 OOM event in" in r.stdout and "in part" in r.stdout and "agree" in r.stdout


# --- exceptions outside the error hierarchy -------------------------------------------------------------

def test_a_bug_is_one_line_and_a_hint_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import oomlens.analysis.ranking as ranking

    assert run("snapshot", "-o", str(tmp_path / "s.json")).exit_code == 0

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyError("boom")

    monkeypatch.setattr(ranking, "rank", boom)
    r = run("top", "--snapshot", str(tmp_path / "s.json"))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("oomlens: error: internal error: KeyError")
    assert lines[1].startswith("  hint:") and "OOMLENS_DEBUG=1" in lines[1]
    r = run("top", "--snapshot", str(tmp_path / "s.json"), env={"OOMLENS_DEBUG": "1"})
    assert r.exit_code == 1 and isinstance(r.exception, KeyError)  # the traceback, when asked for
