"""Human output and error behaviour of top/explain/predict/snapshot (issue 7, 8): hostile names, units per
era, widths, JSON order, refusals and hints. Expected values are worked out by hand from the inputs."""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from oomlens.cli.main import cli
from oomlens.cli.render import Column, layout
from oomlens.cli.text import visible
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemInfo, Task, VmSysctls
from oomlens.sources.live import save_snapshot

GIB = 262_144


def _snap(tasks, release="6.18.44", totalram=4 * GIB):
    return Snapshot(taken_at="2026-11-26T00:00:00+00:00", hostname="h", kernel_release=release, page_size=4096,
                    uptime_s=10_000.0, meminfo=MemInfo(totalram_pages=totalram), sysctls=VmSysctls(),
                    tasks=tuple(tasks), scan_order="pid")


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


@pytest.fixture()
def save(tmp_path):
    def _save(tasks, **kw):
        p = tmp_path / f"s{len(list(tmp_path.iterdir()))}.json"
        save_snapshot(_snap(tasks, **kw), p)
        return str(p)
    return _save


# ---------------------------------------------------------------- text is data

@pytest.mark.parametrize(("raw", "shown"), [
    ("bash", "bash"), ("[/]", "[/]"), ("[bold red]evil", "[bold red]evil"),
    ("\x1b[2J\x1b]0;pwn", "\\x1b[2J\\x1b]0;pwn"), ("a\nb", "a\\nb"), ("t\tab", "t\\tab"),
    ("\x7f\x9b", "\\x7f\\x9b"), ("rtl\u202eexe", "rtl\\u202eexe"), ("bad\udcff", "bad\\xff"), ("café 名", "café 名"),
])
def test_visible(raw, shown):
    assert visible(raw) == shown


HOSTILE = ["[/]", "[bold red]evil", "\x1b[2J\x1b]0;pwn", "two\nlines", "([/])", ":smile:"]


def test_hostile_names_print_as_themselves(save):
    tasks = [Task(pid=10 + i, name=n, rss_anon=1000 * (i + 1)) for i, n in enumerate(HOSTILE)]
    f = save(tasks)
    for args in (["top"], ["top", "--all", "--verbose"], ["explain", "15"], ["explain", "10"], ["predict"]):
        r = run(*args, "--snapshot", f)
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output
        for n in HOSTILE:
            if args[0] != "explain":
                assert visible(n) in r.output, (args, n)
    top = run("top", "--snapshot", f).output
    assert len([ln for ln in top.splitlines() if "two" in ln]) == 1  # the newline did not split the row
    assert "\\x1b[2J\\x1b]0;pwn" in top and "[bold red]evil" in top and ":smile:" in top
    # the victim (largest, pid 15) named ":smile:" is not an emoji; ([/]) in explain's header
    assert "(:smile:)" in top.splitlines()[0]
    assert "14 (([/]))" in run("explain", "14", "--snapshot", f).output
    doc = json.loads(run("top", "--json", "--snapshot", f).output)
    assert {t["name"] for t in doc["tasks"]} == set(HOSTILE)  # JSON stays exact


def test_error_messages_show_control_characters(tmp_path):
    bad = tmp_path / "x\x1b[31m.json"
    r = CliRunner().invoke(cli, ["top", "--snapshot", str(bad)])
    assert r.exit_code == 5 and "\x1b" not in r.output and "x\\x1b[31m.json" in r.output


# ---------------------------------------------------------------- units per era

def test_permille_era_units(save):
    # 3.0: T = 4 GiB = 1048576 pages; 12800 pages -> 12800*1000//1048576 = 12‰; 400000 -> 381‰
    f = save([Task(pid=10, name="small", uid=1000, rss_anon=12_800), Task(pid=20, name="big", uid=1000, rss_anon=400_000)],
             release="3.0.101")
    top = run("top", "--snapshot", f, "--kernel", "3.0")
    assert "badness 381‰ of T (≈ 399507 pages" in top.output  # 381 * 1048576 // 1000
    row = next(ln for ln in top.output.splitlines() if " big " in ln)
    assert row.split()[-1] == "38.1"  # %T of a per-mille score is points / 10
    assert "BADNESS in ‰ of T, not pages" in top.output
    ex = run("explain", "20", "--snapshot", f, "--kernel", "3.0").output
    # runner-up 12‰: the victim must drop to 12‰ (tie: first scanned, pid 10, wins) -> shed 369‰
    assert "shedding about 386924 pages" in ex and "(369‰ of T" in ex  # 369 * 1048576 // 1000
    assert "margin +369‰ of T" in ex and "pages" in ex
    doc = json.loads(run("explain", "20", "--snapshot", f, "--kernel", "3.0", "--json").output)
    assert doc["badness_unit"] == "permille" and doc["shed_points"] == 369 and doc["shed_pages"] == 386_924
    assert doc["task"]["badness"] == 381
    doc = json.loads(run("top", "--snapshot", f, "--json").output)  # the snapshot's own 3.0 rules
    assert doc["badness_unit"] == "permille" and doc["victim"]["badness"] == 381
    doc = json.loads(run("top", "--snapshot", f, "--json", "--kernel", "6.1").output)
    assert doc["badness_unit"] == "pages" and doc["victim"]["badness"] == 400_000


def test_legacy_era_has_no_percent_of_t(save):
    f = save([Task(pid=10, name="a", rss_anon=1000, total_vm=5000)], release="2.6.32")
    r = run("top", "--snapshot", f, "--kernel", "2.6.32")
    assert r.exit_code == 0, r.output
    assert "%T" not in r.output and "heuristic points" in r.output
    assert json.loads(run("top", "--snapshot", f, "--kernel", "2.6.32", "--json").output)["badness_unit"] == "points"


# ---------------------------------------------------------------- widths

def test_layout_never_cuts_numbers():
    cols = [Column("PID"), Column("NAME", right=False, shrink=4), Column("ANON", drop=1), Column("BADNESS")]
    rows = [["14423", "averyverylongname", "1.5G", "20459"]]
    lines, dropped = layout(cols, rows, 24)
    assert dropped == ["ANON"]
    assert lines[1][0] == "14423  averyve…    20459"  # 5 + 2 + 8 + 2 + 7 = 24 columns
    lines, dropped = layout(cols, rows, 10)  # too narrow for the kept columns: numbers stay whole
    assert "14423" in lines[1][0] and "20459" in lines[1][0] and dropped == ["ANON"]
    lines, dropped = layout(cols, rows, None)
    assert dropped == [] and lines[1][0] == "14423  averyverylongname  1.5G    20459"


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_top_keeps_pid_name_badness_score_at_any_width(save, columns):
    f = save([Task(pid=14423, name="averyverylongna", rss_anon=20_000, swapents=459, rss_file=1)])
    out = run("top", "--snapshot", f, env={"COLUMNS": str(columns)}).output
    header = next(ln for ln in out.splitlines() if "PID" in ln)
    row = out.splitlines()[out.splitlines().index(header) + 1]
    for col in ("PID", "NAME", "BADNESS", "SCORE"):
        assert col in header.split()
    assert "14423" in row.split() and "20460" in row.split()  # 20000 + 459 + 1
    if columns < 120:
        assert "hidden at" in out


def test_pipe_is_not_wrapped_or_cut(save):
    name = "n" * 60
    f = save([Task(pid=10, name=name, rss_anon=100)])
    out = run("top", "--snapshot", f).output
    assert name in out and "hidden at" not in out


# ---------------------------------------------------------------- JSON order, refusals, hints

def test_json_stays_in_kill_order_whatever_the_sort(save):
    f = save([Task(pid=10, name="zz", rss_anon=5000), Task(pid=20, name="aa", rss_anon=100)])
    for sort in ("name", "pid", "badness"):
        doc = json.loads(run("top", "--json", "--sort", sort, "--snapshot", f).output)
        assert [t["pid"] for t in doc["tasks"]] == [10, 20]
    table = run("top", "--sort", "name", "--snapshot", f).output.splitlines()
    assert table.index(next(ln for ln in table if " aa " in ln)) < table.index(next(ln for ln in table if " zz " in ln))


@pytest.mark.parametrize(("args", "code", "needles"), [
    (["predict", "--limit", "0"], 2, ["--limit", "less than one page", "hint:"]),
    (["predict", "--set-adj", "2=100"], 3, ["kernel thread", "hint:"]),
    (["predict", "--set-adj", "1=100"], 3, ["global init"]),
    (["predict", "--set-adj", "77=100"], 3, ["no such process in snapshot", "--snapshot"]),
    (["explain", "77"], 3, ["no such process in snapshot", "top --all --snapshot"]),
    (["top", "--kernel", "99.1"], 2, ["no such Linux release", "hint:"]),
    (["top", "--kernel", "3.40"], 2, ["no such Linux release"]),
    (["top", "--kernel", ""], 2, ["empty"]),
    (["top", "--cgroup", ""], 2, ["empty path"]),
    (["top", "--bogus"], 2, ["No such option", "hint: see `"]),
    (["top", "--sort", "nope"], 2, ["--sort", "hint:"]),
])
def test_refusals(save, args, code, needles):
    f = save([Task(pid=1, name="init", is_global_init=True, rss_anon=10),
              Task(pid=2, name="kthreadd", is_kthread=True, has_mm=False), Task(pid=10, name="a", rss_anon=100)])
    r = CliRunner().invoke(cli, [*args, "--snapshot", f])
    assert r.exit_code == code, r.output
    lines = r.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("oomlens: error: ") and lines[1].startswith("  hint: ")
    for n in needles:
        assert n in r.output, (n, r.output)


def test_predict_what_if_still_works(save):
    f = save([Task(pid=10, name="a", rss_anon=5000), Task(pid=20, name="b", rss_anon=100)])
    doc = json.loads(run("predict", "--set-adj", "20=1000", "--json", "--snapshot", f).output)
    assert doc["kills"][0]["pid"] == 20 and doc["badness_unit"] == "pages"


def test_snapshot_write_errors(tmp_path, monkeypatch):
    r = CliRunner().invoke(cli, ["snapshot", "-o", str(tmp_path / "no" / "x.json")])
    assert r.exit_code == 15 and "cannot write" in r.output and "bad snapshot" not in r.output
    import builtins
    real_open = builtins.open

    def deny(path, *a, **kw):
        if str(path).startswith(str(tmp_path / "ro")):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **kw)

    monkeypatch.setattr(builtins, "open", deny)
    r = CliRunner().invoke(cli, ["snapshot", "-o", str(tmp_path / "ro.json")])
    assert r.exit_code == 6 and "Permission denied" in r.output and "hint:" in r.output


def test_live_thread_and_unknown_pid():
    import threading
    ev = threading.Event()
    th = threading.Thread(target=ev.wait)
    th.start()
    try:
        tid = th.native_id
        r = CliRunner().invoke(cli, ["explain", str(tid)])
        assert r.exit_code == 3 and f"is a thread of process {os.getpid()}" in r.output
        assert f"`oomlens explain {os.getpid()}`" in r.output
    finally:
        ev.set()
        th.join()
    r = CliRunner().invoke(cli, ["explain", "4194304"])  # above pid_max's ceiling: never a pid
    assert r.exit_code == 3 and "no such process: pid 4194304" in r.output and "may have exited" not in r.output


# ---------------------------------------------------------------- the answer first, notes folded

def test_notes_folded_unless_verbose(save):
    f = save([Task(pid=10, name="a", rss_anon=100)])
    out = run("top", "--snapshot", f).output
    assert out.splitlines()[0].startswith("next victim: 10 (a)")
    assert "MMF_OOM_SKIP" not in out and re.search(r"\+ \d+ standing notes", out)
    assert "MMF_OOM_SKIP" in run("top", "--verbose", "--snapshot", f).output
    assert "MMF_OOM_SKIP" in " ".join(json.loads(run("top", "--json", "--snapshot", f).output)["notes"])
    # a note that changes the answer is always shown
    assert "scored with the rules of kernel 4.19" in run("top", "--kernel", "4.19", "--snapshot", f).output


def test_explain_ineligible_says_its_reason_once(save):
    f = save([Task(pid=1, name="init", is_global_init=True, rss_anon=10), Task(pid=10, name="a", rss_anon=100)])
    out = run("explain", "1", "--snapshot", f).output
    assert out.count("global init") == 1


# ---------------------------------------------------------------- a real terminal (pty)

def _in_terminal(args, rows, cols):
    """Run oomlens on a pseudo-terminal of rows x cols; the text it shows, escapes removed."""
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    p = subprocess.Popen([sys.executable, "-m", "oomlens", *args], stdin=slave, stdout=slave, stderr=slave,
                         env=env, close_fds=True)
    os.close(slave)
    buf = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    os.close(master)
    assert p.wait(timeout=60) == 0, buf
    text = buf.decode()
    assert "\x1b[1;31m" in text  # styled: it really was a terminal
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r\n", "\n")


@pytest.mark.parametrize(("rows", "cols"), [(24, 80), (24, 40), (30, 120)])
def test_first_screen_holds_the_answer(save, rows, cols):
    tasks = [Task(pid=14000 + i, name=f"worker-{i}", uid=1000, rss_anon=20_000 + i) for i in range(60)]
    out = _in_terminal(["top", "--snapshot", save(tasks)], rows, cols)
    lines = out.rstrip("\n").split("\n")
    screen_rows = sum(max(1, -(-len(ln) // cols)) for ln in lines)  # ASCII: one cell per character
    assert screen_rows <= rows - 1  # and the prompt
    assert lines[0].startswith("next victim: 14059 (worker-59) badness 20059 pages")
    assert any("14059" in ln.split() and "20059" in ln.split() for ln in lines[2:])  # never clipped


def test_postmortem_says_which_columns_a_narrow_screen_hides() -> None:
    # sweep 6's 019: PTBL (mprime 28861 pages) does not fit in 80 columns; like top, the footer names it
    log = os.path.join(os.path.dirname(__file__), "..", "data", "postmortem", "realoom11")
    (path,) = [os.path.join(log, f) for f in os.listdir(log) if f.startswith("019")]
    narrow = run("postmortem", path, env={"COLUMNS": "80"}).output
    wide = run("postmortem", path, env={"COLUMNS": "200"}).output
    assert "28861" in wide and "hidden at" not in wide
    assert "28861" not in narrow and "; hidden at 80 columns: PTBL (wider terminal, or --json)" in narrow
