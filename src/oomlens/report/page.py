"""HTML pages: Jinja2 for the page, plotly for the charts, its JS inlined (the page needs no network).

Everything from a log or /proc (process names, hosts, notes) is attacker-controlled:

* the page's text goes through Jinja2 with autoescape on;
* chart specs go into ``<script type="application/json">`` through ``tojson`` (``<``, ``>``, ``&`` and
  ``'`` become ``\\u003c``... so a ``</script>`` in a name cannot close the element);
* plotly renders labels and hover text as *its* pseudo-HTML (``<b>``, ``<br>``, ``<a href>``): every
  text given to it is entity-escaped first (:func:`_pt`), which plotly decodes back to the literal text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from oomlens.analysis.postmortem import Verdict
from oomlens.report.view import TERMS, Bar, Chart, EventView, Timeline

_LABELS = dict(TERMS)
_COLORS = {
    "anon": "#4C78A8", "file": "#72B7B2", "shmem": "#54A24B", "rss": "#4C78A8", "swap": "#EECA3B",
    "pgtables": "#B279A2", "root_bonus": "#9D755D", "adj": "#E45756", "legacy": "#4C78A8", "other": "#BAB0AC",
}
_VERDICT_STYLE = {Verdict.AGREES: ("#2E7D32", "circle"), Verdict.DISAGREES: ("#C62828", "x"),
                  Verdict.UNDECIDABLE: ("#F9A825", "diamond")}


def _pt(text: object) -> str:
    """Text for plotly: its labels are pseudo-HTML, so escape (plotly decodes the entities back)."""
    return html.escape(str(text), quote=True)


def _bar_label(b: Bar, victim_label: str) -> str:
    mark = f" ◀ {victim_label.upper()}" if b.victim else (" ◀ runner-up" if b.runner_up else "")
    if b.kernel_victim and not b.victim:
        mark += " ◀ kernel killed"
    name = b.name if len(b.name) <= 40 else b.name[:39] + "…"
    return _pt(f"#{b.rank} {b.pid} {name}{mark}")


def _key(b: Bar) -> str:
    return f"pid {b.pid}"


def _fmt(v: float, unit: str) -> str:
    if unit == "permille":
        return f"{v:+.1f}‰"
    return f"{v:+,.0f}"


def chart_spec(chart: Chart) -> dict[str, Any]:
    """A plotly figure as plain JSON data: one horizontal stacked bar per candidate, victim on top."""
    bars = chart.bars
    # category keys must not look like numbers: plotly reads a numeric string in an annotation as a category index
    keys = [_key(b) for b in bars]
    unit = chart.unit.kind
    present = chart.term_keys() or ([bars[0].terms[0][0]] if bars else [])
    fig = go.Figure()
    for key in present:
        vals = [b.term(key) for b in bars]
        hover = [_pt(f"{b.pid} ({b.name}) — {_LABELS[key]}: {_fmt(v, unit)}") for b, v in zip(bars, vals)]
        fig.add_trace(go.Bar(x=vals, y=keys, orientation="h", name=_pt(_LABELS[key]), hovertext=hover,
                             hoverinfo="text", marker={"color": _COLORS[key]}, legendgroup="terms"))
    total_hover = []
    for b in bars:
        lines = [f"{b.pid} ({b.name}) rank {b.rank}: badness {b.badness}" + (" (clamped)" if b.clamped else ""),
                 *b.detail]
        total_hover.append("<br>".join(_pt(x) for x in lines))
    fig.add_trace(go.Scatter(x=[b.badness for b in bars], y=keys, mode="markers", name="badness (kernel's value)",
                             hovertext=total_hover, hoverinfo="text",
                             marker={"symbol": "line-ns-open", "size": 16, "line": {"width": 3}, "color": "#111"}))
    annotations = []
    for b in bars:
        if b.victim or b.runner_up or b.kernel_victim:
            what = chart.victim_label if b.victim else ("runner-up" if b.runner_up else "kernel killed")
            annotations.append({"x": max(b.badness, 0), "y": _key(b), "text": _pt(f" {what} {b.badness}"),
                                "showarrow": False, "xanchor": "left", "font": {"color": "#C62828" if b.victim else "#333"}})
    labels = [_bar_label(b, chart.victim_label) for b in bars]
    fig.update_layout(
        # room for the legend (at the right) even with few bars: a legend taller than the plot scrolls
        barmode="relative", height=max(340, 110 + 26 * len(bars)), margin={"l": 10, "r": 30, "t": 20, "b": 50},
        xaxis={"title": {"text": _pt(chart.unit.label)}, "zeroline": True, "zerolinewidth": 2,
               "zerolinecolor": "#444"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": keys, "autorange": "reversed",
               "tickmode": "array", "tickvals": keys, "ticktext": labels, "automargin": True},
        legend={"orientation": "v", "x": 1.02, "y": 1.0, "yanchor": "top", "traceorder": "normal"},
        annotations=annotations, hovermode="closest", plot_bgcolor="#fafafa",
    )
    return fig.to_plotly_json()  # type: ignore[no-any-return]


def timeline_spec(tl: Timeline) -> dict[str, Any]:
    fig = go.Figure()
    for verdict, (color, symbol) in _VERDICT_STYLE.items():
        pts = [p for p in tl.points if p.verdict == verdict]
        if not pts:
            continue
        hover = ["<br>".join(_pt(x) for x in (f"event {p.index}: {p.verdict}", p.lane,
                                                   p.time_text or "time not logged",
                                                   f"killed {p.victim}" if p.victim else "no kill in the log"))
                 for p in pts]
        fig.add_trace(go.Scatter(x=[p.x for p in pts], y=[_pt(p.lane) for p in pts], mode="markers", name=verdict.value,
                                 customdata=[p.index for p in pts], hovertext=hover, hoverinfo="text",
                                 marker={"color": color, "symbol": symbol, "size": 13, "line": {"width": 1}}))
    lanes = list(dict.fromkeys(_pt(p.lane) for p in tl.points))
    xaxis: dict[str, Any] = {"title": {"text": _pt(tl.axis_label)}}
    if tl.axis == "date":
        xaxis["type"] = "date"
        if tl.year_assumed:
            xaxis["tickformat"] = "%b %d %H:%M:%S"
            xaxis["hoverformat"] = "%b %d %H:%M:%S"
    elif tl.axis == "order":
        xaxis.update(type="linear", dtick=1 if len(tl.points) <= 30 else None, rangemode="tozero")
    fig.update_layout(height=160 + 34 * len(lanes), margin={"l": 10, "r": 20, "t": 30, "b": 50}, xaxis=xaxis,
                      yaxis={"type": "category", "categoryarray": lanes, "automargin": True},
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0}, hovermode="closest",
                      plot_bgcolor="#fafafa")
    return fig.to_plotly_json()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- pages

_env = jinja2.Environment(loader=jinja2.PackageLoader("oomlens.report", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.globals["term_labels"] = _LABELS


def _plotly_js() -> str:
    js: str = get_plotlyjs()
    if "</script" in js.lower():  # cannot happen with plotly's bundle; an inlined script must not contain it
        raise ValueError("the plotly bundle contains '</script': it cannot be inlined")
    return js


@dataclass(frozen=True, slots=True)
class Section:
    """One chart-bearing part of a page: a snapshot (top) or an event (postmortem)."""

    anchor: str
    title: str
    event: EventView | None
    chart: Chart | None
    spec: dict[str, Any] | None


def _section(anchor: str, title: str, event: EventView | None, chart: Chart | None) -> Section:
    return Section(anchor, title, event, chart, chart_spec(chart) if chart is not None and chart.bars else None)


def _generated() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_top(chart: Chart, *, heading: str, facts: Sequence[tuple[str, str]], notes: Sequence[str],
               generated: str | None = None) -> str:
    """The page of ``oomlens top --html``."""
    sec = _section("snapshot", heading, None, chart)
    return _env.get_template("page.html.j2").render(
        kind="top", title=f"oomlens top — {heading}", facts=list(facts), sections=[sec], notes=list(notes),
        timeline=None, timeline_spec=None, summary=None, omitted=0, plotly_js=_plotly_js(),
        generated=generated or _generated())


def render_postmortem(events: Sequence[EventView], tl: Timeline, *, sources: Sequence[str], total: int,
                      omitted: int, generated: str | None = None) -> str:
    """The page of ``oomlens postmortem --html``: the timeline, then one section per event."""
    sections = [_section(f"event-{e.index}", f"event {e.index}", e, e.chart) for e in events]
    summary: dict[Verdict, int] = {}
    for p in tl.points:
        summary[p.verdict] = summary.get(p.verdict, 0) + 1
    return _env.get_template("page.html.j2").render(
        kind="postmortem", title="oomlens postmortem — " + (sources[0] if len(sources) == 1 else f"{len(sources)} inputs"),
        facts=[("input", ", ".join(sources))] if len(sources) > 1 else [], sections=sections,
        notes=list(tl.notes), timeline=tl, timeline_spec=timeline_spec(tl) if tl.points else None,
        summary=summary, total=total, omitted=omitted, plotly_js=_plotly_js(), generated=generated or _generated())
