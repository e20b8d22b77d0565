"""Issue 8.1: each file, and each host inside a file, is its own world. State (host swap, previous
victims) carries over only where the input proves it is one machine, and never across a reboot."""

from __future__ import annotations

import json
from itertools import chain
from pathlib import Path

from click.testing import CliRunner
from test_postmortem import report68

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.main import cli
from oomlens.oomreport import parse_text
from oomlens.sources.kernellog import iter_file_events

CORPUS = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "corpus"


def analyze_sources(*texts: tuple[str, str]) -> list[dict]:
    return [a.to_dict() for a in analyze_events(chain.from_iterable(parse_text(t, src) for src, t in texts))]


def test_corpus_008_after_006_keeps_its_own_T():
    # 008 alone: T = limit 102400 kB / 4 = 25600 pages (memsw unlimited, no swap used). stress (uid 0):
    # rss 25609 + nr_ptes 59 + nr_pmds 3 = 25671, minus the 3% root bonus (770) = 24901 points, and
    # 24901 * 1000 // 25600 = 972, the printed score. With 006's swap added (T = 513791) it would print 48.
    # 006 (another, hostless machine with 1952764 kB swap) must not lend its swap to 008.
    files = [str(CORPUS / "006-forum-mysqld-ubuntu1204.log"), str(CORPUS / "008-readme-cgroup-stress-memcg.log")]
    out = [a.to_dict() for a in analyze_events(chain.from_iterable(iter_file_events(f) for f in files))]
    d = out[-1]
    assert d["source"].endswith("008-readme-cgroup-stress-memcg.log")
    assert d["totalpages"] == 25600
    assert d["score_check"]["matches"] is True
    assert "values moved" not in (d["reason"] or "")


def test_hostless_swap_does_not_cross_files():
    glob = report68([(5, 10)], 5, ram=1_000_000, swap_kb=40_000, ts=10.0)  # 10000 swap pages
    memcg = report68([(10, 2000), (11, 1000)], 10, memcg={"path": "/a", "swap_kb": 8000}, limit_kb=102400, ts=20.0)
    same = analyze_sources(("one.log", glob + memcg))[1]
    assert same["totalpages"] == 25600 + 2000  # one file: the swap is known (min(swap.max 2000, 10000))
    other = analyze_sources(("a.log", glob), ("b.log", memcg))[1]
    assert other["totalpages"] == 25600 and other["totalpages_exact"] is False  # host swap unknown in b.log


def test_a_distinctive_host_name_links_files():
    glob = report68([(5, 10)], 5, ram=1_000_000, swap_kb=40_000, ts=10.0, host="db7")
    memcg = report68([(10, 2000), (11, 1000)], 10, memcg={"path": "/a", "swap_kb": 8000}, limit_kb=102400,
                     ts=20.0, host="db7")
    assert analyze_sources(("messages.1", glob), ("messages", memcg))[1]["totalpages"] == 27600
    # a generic name proves nothing
    glob_lh = glob.replace(" db7 ", " localhost ")
    memcg_lh = memcg.replace(" db7 ", " localhost ")
    assert analyze_sources(("a", glob_lh), ("b", memcg_lh))[1]["totalpages"] == 25600


def _second_kills_11(first_ts: float, second_ts: float, *, name10: str = "p10", sources=("x.log", "x.log")):
    """Event 1 kills 10; event 2 shows 10 (900 pages) again and the kernel kills 11 (500 pages): right only if
    10 is event 1's victim still being reaped (MMF_OOM_SKIP); on another machine 10 is the model's pick."""
    first = report68([(10, 900, 4096, 0, "p10"), (11, 500)], 10, ts=first_ts)
    second = report68([(10, 900, 4096, 0, name10), (11, 500)], 11, ts=second_ts)
    if sources[0] == sources[1]:
        return analyze_sources((sources[0], first + second))[1]
    return analyze_sources((sources[0], first), (sources[1], second))[1]


def test_previous_victims_carry_within_one_file():
    b = _second_kills_11(10.0, 20.0)
    assert b["verdict"] == "agrees" and b["model_victim"]["pid"] == 11


def test_previous_victims_do_not_cross_files():
    b = _second_kills_11(10.0, 20.0, sources=("x.log", "y.log"))
    assert b["model_victim"]["pid"] == 10 and b["verdict"] == "disagrees"
    assert not any("previous OOM victims" in n for n in b["notes"])


def test_a_reboot_forgets_previous_victims():
    b = _second_kills_11(500.0, 20.0)  # uptime went backwards: pid 10 is a new process
    assert b["model_victim"]["pid"] == 10 and b["verdict"] == "disagrees"


def test_a_reused_pid_with_another_name_is_a_candidate():
    b = _second_kills_11(10.0, 20.0, name10="python")
    assert b["model_victim"]["pid"] == 10 and b["verdict"] == "disagrees"


def test_tally_per_host(tmp_path):
    alpha = report68([(10, 900), (11, 500)], 10, host="alpha", ts=10.0)         # agrees
    beta1 = report68([(10, 90000), (11, 500)], 11, host="beta", ts=20.0)        # disagrees (model: 10)
    beta2 = report68([(20, 900), (21, 500)], 20, host="beta", ts=30.0)          # agrees
    p = tmp_path / "k.log"
    p.write_text(alpha + beta1 + beta2)
    r = CliRunner().invoke(cli, ["postmortem", str(p)])
    assert r.exit_code == 0, r.output
    assert f"3 OOM events in {p}: 2 agree, 1 disagree, 0 undecidable" in r.stdout
    assert "  alpha: 1 event, 1 agree, 0 disagree, 0 undecidable" in r.stdout
    assert "  beta: 2 events, 1 agree, 1 disagree, 0 undecidable" in r.stdout
    doc = json.loads(CliRunner().invoke(cli, ["postmortem", "--json", str(p)]).stdout)
    assert list(doc) == ["events", "sources", "summary"]
    s = doc["summary"]
    assert (s["events"], s["agrees"], s["disagrees"], s["undecidable"]) == (3, 2, 1, 0)
    assert s["hosts"] == [
        {"host": "alpha", "source": None, "events": 1, "agrees": 1, "disagrees": 0, "undecidable": 0},
        {"host": "beta", "source": None, "events": 2, "agrees": 1, "disagrees": 1, "undecidable": 0},
    ]
