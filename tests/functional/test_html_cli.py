"""``top --html FILE`` and ``postmortem --html FILE``: the page is written, the usual output is unchanged, and
bad targets or a missing extra give one error line, a hint and a documented exit code."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from click.testing import CliRunner

from oomlens.cli.main import cli
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemInfo, Task, VmSysctls
from oomlens.sources.live import save_snapshot

GIB = 262_144
DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "oomreport"


@pytest.fixture()
def snapfile(tmp_path):
    tasks = (Task(pid=1, name="init", is_global_init=True, rss_anon=100),
             Task(pid=200, name="java", uid=1000, rss_anon=GIB // 2, swapents=500),
             Task(pid=300, name="batch", uid=1000, rss_anon=GIB // 4, oom_score_adj=500))
    snap = Snapshot(taken_at="2026-11-26T00:00:00+00:00", hostname="h", kernel_release="6.18.44", page_size=4096,
                    uptime_s=1.0, meminfo=MemInfo(totalram_pages=4 * GIB), sysctls=VmSysctls(), tasks=tasks,
                    scan_order="pid")
    p = tmp_path / "s.json"
    save_snapshot(snap, p)
    return str(p)


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_top_html_writes_the_page_and_keeps_json(snapfile, tmp_path):
    page = tmp_path / "top.html"
    plain = run("top", "--snapshot", snapfile, "--json")
    r = run("top", "--snapshot", snapfile, "--json", "--html", str(page))
    assert r.exit_code == 0
    assert json.loads(r.stdout) == json.loads(plain.stdout)  # --html adds a file, not output
    assert r.stderr.strip() == f"oomlens: wrote {page}"
    text = page.read_text()
    assert 'data-candidates="2"' in text  # java and batch; init is not a candidate
    assert "1 not eligible" in text
    # batch 65536 + 500*1048 = 589536 leads java 131072 + 500 = 131572 by 457964 pages
    assert '<span class="margin">457964</span>' in text
    assert list(tmp_path.glob(".top.html.*")) == []  # the temporary file was renamed


def test_postmortem_html_one_section_per_event(tmp_path):
    page = tmp_path / "pm.html"
    logs = [str(DATA / "synthetic" / "s12-ratelimited-burst.log"), str(DATA / "corpus" / "001-cadvisor-system-oom.log")]
    r = run("postmortem", "--json", "--html", str(page), *logs)
    assert r.exit_code == 0, r.output
    events = json.loads(r.stdout)["events"]
    assert len(events) == 6
    text = page.read_text()
    assert [f'<section id="event-{i}">' in text for i in range(1, 8)] == [True] * 6 + [False]
    assert 'id="timeline"' in text and 'data-points="6"' in text
    # the cadvisor event (3.13, 28 rows): its chart has one bar per candidate of the model's ranking
    cad = events[5]
    n = sum(1 for t in cad["tasks"] if t["eligible"])
    assert n > 20 and f'id="chart-event-6" class="plot badness" data-candidates="{n}"' in text


def test_postmortem_html_with_no_event_still_writes_a_page(tmp_path):
    log = tmp_path / "quiet.log"
    log.write_text("Jan  1 00:00:00 h kernel: nothing to see\n")
    page = tmp_path / "pm.html"
    r = run("postmortem", "--html", str(page), str(log))
    assert r.exit_code == 0 and "No OOM event found." in page.read_text()


@pytest.mark.parametrize("target, code, says", [
    ("{tmp}/no/such/dir/x.html", 15, "does not exist"),
    ("{tmp}", 15, "is a directory"),
])
def test_bad_html_target_fails_before_any_work(tmp_path, target, code, says):
    target = target.format(tmp=tmp_path)
    # the missing log would give exit 7: the --html check comes first
    r = run("postmortem", "--html", target, str(tmp_path / "missing.log"))
    assert r.exit_code == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and says in lines[0] and lines[1].lstrip().startswith("hint:")
    r = run("top", "--snapshot", str(tmp_path / "missing.json"), "--html", target)
    assert r.exit_code == code and says in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: no permission error to provoke")
def test_unwritable_html_target_is_permission_denied(tmp_path, snapfile):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    r = run("top", "--snapshot", snapfile, "--html", str(ro / "x.html"))
    assert r.exit_code == 6 and "permission denied" in r.stderr


def test_missing_extra_is_one_line_with_the_pip_hint(tmp_path, snapfile):
    code = ("import sys; sys.modules['plotly'] = None\n"  # as if the html extra were not installed
            "from oomlens.cli.main import main; main()")
    r = subprocess.run([sys.executable, "-c", code, "top", "--snapshot", snapfile, "--html", str(tmp_path / "x.html")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["oomlens: error: --html needs the optional 'html' extra (plotly not installed)",
                                     "  hint: pip install 'oomlens[html]'"]
    assert not (tmp_path / "x.html").exists()
