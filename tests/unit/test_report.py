"""HTML report views and pages: terms, units per era, counterfactuals, timeline axes, hostile text.

Expected numbers are worked out by hand from the kernel's formulas (comments), not taken from the code.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from oomlens.analysis.postmortem import Verdict
from oomlens.analysis.ranking import rank
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemInfo, Task, VmSysctls
from oomlens.report.view import TimelineInput, badness_chart, parse_wall_clock, timeline
from sample_tasks import GIB, TASKS

T = 4 * GIB    # 1048576 pages, T // 1000 = 1048


def _snap(tasks=TASKS, release="6.18.44") -> Snapshot:
    return Snapshot(taken_at="2026-11-26T00:00:00+00:00", hostname="h", kernel_release=release, page_size=4096,
                    uptime_s=10_000.0, meminfo=MemInfo(totalram_pages=T), sysctls=VmSysctls(),
                    tasks=tuple(tasks), scan_order="pid")


def test_pages_era_terms_victim_runner_up_and_counterfactuals() -> None:
    chart = badness_chart(rank(_snap()))
    assert chart.unit.kind == "pages" and "pages" in chart.unit.label
    # batch: 65536 + 500*1048 = 589536; java: 131072+1000+500 = 132572; postgres: 262144+512-900*1048 = -680544
    assert [(b.pid, b.badness) for b in chart.bars] == [(300, 589536), (200, 132572), (100, -680544)]
    assert chart.not_eligible == 2  # init, kthreadd
    pg = {k: v for k, v in chart.bars[2].terms}
    assert pg == {"anon": GIB, "file": 0, "shmem": 0, "swap": 0, "pgtables": 512, "adj": -900 * 1048}
    java = dict(chart.bars[1].terms)
    assert (java["anon"], java["file"], java["swap"]) == (GIB // 2, 1000, 500)
    for b in chart.bars:  # the segments add up to the kernel's sum (no clamp since 5.9)
        assert sum(v for _, v in b.terms) == b.unclamped == b.badness
    assert [b.victim for b in chart.bars] == [True, False, False]
    assert [b.runner_up for b in chart.bars] == [False, True, False]
    cf = chart.counterfactuals
    assert cf is not None and (cf.victim_pid, cf.runner_up_pid) == (300, 200)
    assert cf.margin == 589536 - 132572
    # spare: 65536 + a*1048 < 132572  <=>  a <= 63 (a = 64 gives 132608)
    assert cf.spare_adj == 63
    # runner-up becomes the victim: 132572 + a*1048 > 589536  <=>  a >= 437 (a = 436 gives 589500)
    assert cf.runner_up_victim_adj == 437


def test_permille_era_is_labelled_per_mille_and_splits_the_kernels_integer() -> None:
    chart = badness_chart(rank(_snap(release="3.2.0"), kernel="3.2"))
    assert chart.unit.kind == "permille" and "‰" in chart.unit.label and "not pages" in chart.unit.label
    by = {b.pid: b for b in chart.bars}
    # batch: 65536*1000/1048576 = 62 (62.5 truncated) + 500 = 562; java: 132572000/1048576 = 126
    assert (by[300].badness, by[200].badness) == (562, 126)
    # postgres (uid 0: root bonus -30 per mille): 262656000/1048576 = 250, -30, -900 = -680, clamped to 1
    pg = by[100]
    assert pg.badness == 1 and pg.clamped and pg.unclamped == -680
    terms = dict(pg.terms)
    assert terms["adj"] == -900 and terms["root_bonus"] == -30
    assert terms["anon"] + terms["pgtables"] == pytest.approx(250)
    assert sum(terms.values()) == pytest.approx(-680)
    assert dict(by[300].terms)["anon"] == pytest.approx(62)
    from oomlens.report.page import render_top

    page = render_top(chart, heading="3.2", facts=[], notes=[])
    # the margin and what to shed are per mille of T here, never called pages: 562 - 126 = 436
    assert '<span class="margin">436</span> ‰ of T' in page
    # down to 126, a tie with java, scanned first, which keeps the choice (points > chosen_points): 436‰,
    # 436 * 1048576 / 1000 = 457179.1 pages
    assert "would have to lose 436‰ of T: about 457179 pages" in page


def test_legacy_era_has_points_and_no_adj_counterfactuals() -> None:
    chart = badness_chart(rank(_snap(release="2.6.30"), kernel="2.6.30"))
    assert chart.unit.kind == "points" and "not pages" in chart.unit.label
    assert all([k for k, _ in b.terms] == ["legacy"] for b in chart.bars)
    assert chart.counterfactuals is not None and chart.counterfactuals.spare_adj is None


def test_3_5_era_root_bonus_is_inside_the_adj_term_not_counted_twice() -> None:
    # 3.5-3.13: adj -= 30 for root, so postgres's adj term is (-900-30)*1048; clamped to 1
    chart = badness_chart(rank(_snap(release="3.10.0"), kernel="3.10"))
    pg = next(b for b in chart.bars if b.pid == 100)
    assert dict(pg.terms)["adj"] == -930 * 1048 and "root_bonus" not in dict(pg.terms)
    assert pg.unclamped == GIB + 512 - 930 * 1048 and pg.badness == 1


# --------------------------------------------------------------------------- timeline

def _ev(i: int, ts: str | None, up: float | None = None, host: str | None = "h1", verdict: Verdict = Verdict.AGREES):
    return TimelineInput(i, "x.log", host, ts, up, verdict, f"{i} (p{i})")


def test_wall_clock_formats() -> None:
    assert parse_wall_clock("2023-02-11T08:15:42.000101+01:00")[0].isoformat() == "2023-02-11T08:15:42.000101"
    assert parse_wall_clock("Thu Mar 27 10:11:12 2014") == (parse_wall_clock("2014-03-27T10:11:12")[0], False)
    dt, assumed = parse_wall_clock("May 17 19:54:29.101243")
    assert assumed and (dt.month, dt.day, dt.microsecond) == (5, 17, 101243)
    assert parse_wall_clock("Feb 29 00:00:01") is not None  # placeholder year is a leap year
    assert parse_wall_clock("4379596.347992") is None and parse_wall_clock("yesterday") is None


def test_timeline_axes_never_invent_times() -> None:
    iso = timeline([_ev(1, "2024-05-17T19:54:29+0200"), _ev(2, "2024-05-18T01:00:00+0200", host="h2")])
    assert iso.axis == "date" and not iso.year_assumed
    assert [p.x for p in iso.points] == ["2024-05-17 19:54:29.000000", "2024-05-18 01:00:00.000000"]
    assert [p.lane for p in iso.points] == ["h1", "h2"]
    syslog = timeline([_ev(1, "Oct  9 03:00:01"), _ev(2, "Oct  9 03:00:04")])
    assert syslog.axis == "date" and syslog.year_assumed and syslog.notes
    # a year-less stamp going back in the same lane (Dec -> Jan): no date axis
    assert timeline([_ev(1, "Dec 31 23:59:59"), _ev(2, "Jan  1 00:00:01")]).axis == "order"
    # with and without a year mixed: placing them would be a guess
    assert timeline([_ev(1, "Dec 31 23:59:59"), _ev(2, "2024-01-01T00:00:01")]).axis == "order"
    # year-less stamps from two inputs (e.g. two hosts' logs of different years) cannot share an axis
    other = TimelineInput(2, "y.log", "h2", "Oct  9 03:00:04", None, Verdict.AGREES, None)
    assert timeline([_ev(1, "Jan 28 19:58:45"), other]).axis == "order"
    up = timeline([_ev(1, None, 30.5), _ev(2, None, 90.25)])
    assert up.axis == "uptime" and [p.x for p in up.points] == [30.5, 90.25]
    mixed = timeline([_ev(1, None, 30.5), _ev(2, None, None, host=None)])
    assert mixed.axis == "order" and [p.x for p in mixed.points] == [1, 2]
    assert mixed.points[1].lane == "host not logged · x.log"


# --------------------------------------------------------------------------- pages and hostile text

HOSTILE = "</script><script>alert(1)</script>"


class _Scripts(HTMLParser):
    """Collects every <script> element's type and text, and the visible text, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[str | None, str]] = []
        self.text: list[str] = []
        self._in: str | None | bool = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in = dict(attrs).get("type")
            self.scripts.append((self._in, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = False

    def handle_data(self, data):
        if self._in is not False:
            t, d = self.scripts[-1]
            self.scripts[-1] = (t, d + data)
        else:
            self.text.append(data)


def _top_page(tasks) -> str:
    from oomlens.report.page import render_top

    chart = badness_chart(rank(_snap(tasks)))
    return render_top(chart, heading="test", facts=[("kernel", "6.18")], notes=["note <b>x</b>"])


def test_hostile_names_stay_text_in_page_and_chart() -> None:
    tasks = [Task(pid=10, name=HOSTILE, uid=1000, rss_anon=GIB), Task(pid=11, name="[/]", uid=1000, rss_anon=GIB // 2),
             Task(pid=12, name="<b>%{x}</b>&amp;", uid=1000, rss_anon=GIB // 4)]
    page = _top_page(tasks)
    p = _Scripts()
    p.feed(page)
    # exactly: the plotly bundle, the init code and one JSON spec; a name never opens or closes a script
    assert [t for t, _ in p.scripts] == ["application/json", None, None]
    assert "<script>alert(1)" not in page and "alert(1)</script>" not in page
    spec = json.loads(p.scripts[0][1])  # valid JSON: the name did not cut the element short
    ticks = spec["layout"]["yaxis"]["ticktext"]
    # plotly reads labels as pseudo-HTML: they reach it entity-escaped (it shows them literally)
    assert ticks[0].startswith("#1 10 &lt;/script&gt;&lt;script&gt;alert(1)")
    assert any("&lt;b&gt;%{x}&lt;/b&gt;&amp;amp;" in t for t in ticks)
    assert not any("hovertemplate" in tr for tr in spec["data"])  # %{x} in a name must not be substituted
    text = "".join(p.text)
    assert HOSTILE in text and "[/]" in text and "<b>%{x}</b>&amp;" in text  # shown literally, as text
    assert "note <b>x</b>" in text


def test_page_is_self_contained() -> None:
    from plotly.offline import get_plotlyjs

    page = _top_page(TASKS)
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1  # inlined, once
    ours = page.replace(bundle, "")  # the bundle's own strings (links in its modebar) are not loads
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours, re.I)
    assert "<script src" not in ours and "<link" not in ours and "@import" not in ours
    assert "Plotly.newPlot" in ours


def test_postmortem_page_has_a_section_per_event_and_the_timeline() -> None:
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.report.page import render_postmortem
    from oomlens.report.view import event_view, timeline_input
    from oomlens.sources.kernellog import iter_file_events

    log = "tests/data/oomreport/synthetic/s12-ratelimited-burst.log"
    analyses = list(analyze_events(iter_file_events(log)))
    assert len(analyses) == 5
    views = [event_view(i, a) for i, a in enumerate(analyses, 1)]
    page = render_postmortem(views, timeline([timeline_input(i, a) for i, a in enumerate(analyses, 1)]),
                             sources=[log], total=5, omitted=0)
    assert [f'id="event-{i}"' in page for i in range(1, 6)] == [True] * 5
    p = _Scripts()
    p.feed(page)
    specs = [json.loads(d) for t, d in p.scripts if t == "application/json"]
    tl = specs[0]
    assert sum(len(tr["x"]) for tr in tl["data"]) == 5  # every event on the timeline
    assert {tr["name"] for tr in tl["data"]} == {a.verdict for a in analyses}
