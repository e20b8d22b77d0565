"""Human output (rich). Only the CLI imports this module."""

from __future__ import annotations

import os
import pwd
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from oomlens.analysis.ranking import Explanation, Ranking, ScoredTask


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """`oomlens top | head`: the reader stopped early, which is not an error (rich exits 1 here)."""
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0)


# A pipe or file gets the whole table (no 80-column folding); a terminal gets its own width.
console = _Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def human(pages: int | None, page_size: int = 4096) -> str:
    if pages is None:
        return "-"
    b = pages * page_size  # integers throughout: a hostile log's 400-digit value must not overflow a float
    sign = "-" if b < 0 else ""
    b = abs(b)
    for i, unit in enumerate(("B", "K", "M", "G", "T")):
        if b < 1024 ** (i + 1) or unit == "T":
            if b >= 1024 ** (i + 1):  # beyond 1024T: whole terabytes, however many digits
                return f"{sign}{b // 1024 ** i}{unit}"
            n = b / 1024 ** i
            return f"{sign}{n:.0f}{unit}" if unit == "B" or n >= 100 else f"{sign}{n:.1f}{unit}"
    return str(pages)  # pragma: no cover


_users: dict[int, str] = {}


def user(uid: int) -> str:
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = str(uid)
    return _users[uid]


def _domain_line(r: Ranking) -> str:
    dom = f"memcg {r.cgroup}" if r.cgroup else "global"
    head = f"kernel {r.release} (rules {r.era.name}) · domain {dom} ({r.constraint.value}) · "
    if r.era.scoring == "legacy":
        return head + "no T: the legacy heuristic scores total_vm, children, cpu and run time, nice and privileges"
    return head + f"T = {r.totalpages} pages ({human(r.totalpages, r.page_size)}), T/1000 = {r.totalpages // 1000}"


def top(r: Ranking, rows: list[ScoredTask], truncated: bool = False) -> None:
    console.print(_domain_line(r))
    sel = r.selection
    if r.victim is not None:
        v = r.victim
        me = " — this oomlens process itself, which exits in a moment" if v.task.pid == os.getpid() else ""
        line = f"next victim: [bold red]{v.task.pid} ({v.task.name})[/] badness {v.terms.points}{me}"
        if sel.sacrificed_for is not None:
            line += f" — child sacrificed for {sel.sacrificed_for.pid} ({sel.sacrificed_for.name})"
        if sel.oom_group:
            line += f" — memory.oom.group {sel.oom_group}: {len(sel.also_killed)} more"
        console.print(line)
    else:
        console.print(f"[bold]no victim[/]: {sel.message or sel.outcome}")
    if sel.outcome == "panic":
        console.print(f"[bold red]{sel.message}[/]")
    t = Table(box=None, header_style="bold", pad_edge=False)
    for col, just in [("#", "right"), ("PID", "right"), ("NAME", "left"), ("USER", "left"), ("ADJ", "right"),
                      ("ANON", "right"), ("FILE", "right"), ("SHMEM", "right"), ("SWAP", "right"),
                      ("PTBL", "right"), ("ADJ TERM", "right"), ("BADNESS", "right"), ("SCORE", "right"),
                      ("%T", "right"), ("WHY NOT", "left")]:
        t.add_column(col, justify=just, no_wrap=col not in ("WHY NOT",), overflow="ellipsis" if col == "NAME" else "fold")  # type: ignore[arg-type]
    ps = r.page_size
    for s in rows:
        task, b = s.task, s.terms
        elig = s.eligible
        style = "bold red" if r.victim is s else ("dim" if not elig else "")
        t.add_row(str(s.rank or ""), str(task.pid), task.name, user(task.uid), str(task.oom_score_adj),
                  human(task.rss_anon, ps) if task.rss_split_known else human(task.rss, ps) + "*",
                  human(task.rss_file, ps), human(task.rss_shmem, ps), human(task.swapents, ps),
                  human(task.pgtables_bytes // ps, ps), str(b.adj_term) if elig else "-",
                  str(b.points) if elig else "-", str(s.oom_score),
                  f"{100 * b.points / max(r.totalpages, 1):.1f}" if elig else "-",
                  s.reason or "", style=style)
    console.print(t)
    if truncated:
        console.print(f"… {len(r.eligible) - len(rows)} more eligible; use -n N or --all")
    skipped = len(r.tasks) - len(r.eligible)
    foot = f"{len(r.eligible)} candidates, {skipped} not eligible"
    if r.unreadable:
        foot += f", {r.unreadable} unreadable (permission denied)"
    console.print(Text(foot + ". BADNESS = anon+file+shmem+swap+page tables (pages) + ADJ TERM; "
                       "SCORE = /proc/PID/oom_score as the model computes it.", style="dim"))
    for n in r.notes:
        console.print(Text("note: " + n, style="dim"))


def explain(ex: Explanation) -> None:
    r, s = ex.ranking, ex.target
    task, b = s.task, s.terms
    ps = r.page_size
    console.print(_domain_line(r))
    console.print(f"[bold]{task.pid} ({task.name})[/] uid {task.uid} oom_score_adj {task.oom_score_adj}")
    if not s.eligible:
        console.print(f"not an OOM candidate: {s.reason}")
        for n in ex.notes:
            console.print(f"note: {n}")
        return
    if b.legacy:
        console.print("legacy heuristic (<=2.6.35):")
        for step, pts in b.legacy:
            console.print(f"  {step:<45} → {pts}")
    else:
        console.print("oom_badness():")
        console.print(f"  rss          {b.rss:>12} pages  (anon {task.rss_anon} + file {task.rss_file} + shmem {task.rss_shmem})")
        console.print(f"  + swapents   {b.swapents:>12} pages")
        console.print(f"  + pagetables {b.pgtables:>12} pages  ({task.pgtables_bytes} bytes / {ps})")
        if r.era.scoring == "permille":
            console.print(f"  = {b.base} pages × 1000 / T({r.totalpages}) = {b.base * 1000 // max(r.totalpages, 1)}‰")
            if b.root_bonus:
                console.print(f"  − {b.root_bonus} (CAP_SYS_ADMIN)")
            console.print(f"  + oom_score_adj {b.adj_term}")
        else:
            console.print(f"  = {b.base:>14} pages")
            if b.root_bonus:
                console.print(f"  − root bonus {b.root_bonus}")
            console.print(f"  + adj term   {b.adj_term:>12}  (oom_score_adj {b.adj} × (T/1000 = {r.totalpages // 1000}))")
        console.print(f"  = badness    {b.points:>12}" + ("  (clamped)" if b.clamped else "") +
                      ("  (32-bit overflow, as that kernel)" if b.overflowed else ""))
    console.print(f"/proc/{task.pid}/oom_score = {s.oom_score} (global T = {r.global_totalpages})")
    is_victim = r.victim is s
    console.print(f"rank {s.rank} of {len(r.eligible)}" + (" — [bold red]the next OOM victim[/]" if is_victim else ""))
    if ex.rival is not None and ex.margin is not None:
        who = "runner-up" if is_victim else "victim"
        console.print(f"{who}: {ex.rival.task.pid} ({ex.rival.task.name}) badness {ex.rival.terms.points}; "
                      f"margin {ex.margin:+d} pages ({human(ex.margin, ps)})")
    if r.era.scoring == "legacy":
        pass  # no adj counterfactuals for the legacy heuristic (the note says so)
    elif is_victim:
        if ex.spare_adj is not None:
            console.print(f"oom_score_adj ≤ {ex.spare_adj} would spare it"
                          + (f" ({ex.rival.task.name} would die instead)" if ex.rival else ""))
        else:
            console.print("no oom_score_adj above -1000 spares it (only -1000 does)")
        if ex.shed_pages is not None:
            console.print(f"or shedding {ex.shed_pages} pages ({human(ex.shed_pages, ps)}) of memory")
    else:
        if ex.victim_adj is not None:
            console.print(f"oom_score_adj ≥ {ex.victim_adj} would make it the victim")
        else:
            console.print("no oom_score_adj up to 1000 makes it the victim")
    for a in b.assumptions:
        console.print(f"assumption: {a}")
    for n in ex.notes + r.notes:
        console.print(Text("note: " + n, style="dim"))


def predict(doc: dict[str, Any], page_size: int) -> None:
    d = doc["domain"]
    console.print(f"kernel {doc['kernel']['release']} (rules {doc['kernel']['era']}) · domain "
                  f"{'memcg ' + d['cgroup'] if d['cgroup'] else 'global'} · T = {d['totalpages']} pages")
    t = Table(box=None, header_style="bold")
    for c in ("#", "PID", "NAME", "ADJ", "BADNESS", "FREES", "TOTAL FREED", "ALSO KILLED"):
        t.add_column(c)
    for k in doc["kills"]:
        t.add_row(str(k["order"]), str(k["pid"]), k["name"], str(k["oom_score_adj"]), str(k["badness"]),
                  human(k["freed_pages"], page_size), human(k["cumulative_pages"], page_size),
                  ",".join(map(str, k["also_killed"])))
    console.print(t)
    if doc["need_pages"] is not None:
        msg = "enough" if doc["satisfied"] else "NOT enough: the kernel would run out of candidates"
        console.print(f"need {human(doc['need_pages'], page_size)}: {msg}")
    for n in doc["notes"]:
        console.print(Text("note: " + n, style="dim"))


_VERDICT_STYLE = {"agrees": "bold green", "disagrees": "bold red", "undecidable": "bold yellow"}


def postmortem_event(a: Any, verbose: bool = False) -> None:
    d = a.to_dict()
    when = f" at {d['timestamp']}" if d["timestamp"] else ""
    host = f" host {d['host']}" if d["host"] else ""
    console.rule(Text(f"{d['source']}:{d['lines'][0]}-{d['lines'][1]}{host}{when}", style="bold"), align="left")
    rel = d["kernel_release"] or "release not printed"
    console.print(f"kernel: {rel} · rules {d['kernel_era']} ({d['era_source']})")
    inv = d["invoked_by"]
    if inv:
        what = "sysrq-f (forced)" if d["sysrq"] else f"order={inv['order']} gfp={inv['gfp_mask']}"
        console.print(f"allocating task: {inv['comm']}" + (f" (pid {inv['pid']})" if inv["pid"] else "") + f", {what}")
    dom = f"memcg {d['cgroup']}" if d["cgroup"] else "global"
    T = d["totalpages"]
    console.print(f"domain: {dom} ({d['constraint']}) · T = " + (f"{T} pages" if T is not None else "unknown")
                  + ("" if d["totalpages_exact"] or T is None else " (approximate)")
                  + (f" — {d['totalpages_how']}" if d["totalpages_how"] else ""))
    ol = d["over_limit"]
    if ol:
        console.print(f"memcg usage {ol['usage_kb']} kB of limit {ol['limit_kb']} kB ({ol['percent']}%), failcnt {ol['failcnt']}")
    s = d["selection"]
    if s:
        console.print(f"kernel selected: {s['pid']} ({s['name']}) score {s['score']}")
    if d["killed"]:
        console.print("kernel killed: " + ", ".join(f"{k['pid']} ({k['name']})" for k in d["killed"])
                      + (f" — memory.oom.group {d['oom_group']}" if d["oom_group"] else ""))
    elif not s:
        console.print("kernel killed: (not in the log)")
    if d["reaped"]:
        console.print("oom_reaper: " + ", ".join(f"{r['pid']} {'reaped' if r['reaped'] else 'NOT reaped'}" for r in d["reaped"]))
    mv = d["model_victim"]
    console.print("model picks: " + (f"{mv['pid']} ({mv['name']})" if mv else "—"))
    console.print(Text(f"verdict: {d['verdict']}", style=_VERDICT_STYLE[d["verdict"]])
                  + Text(f" — {d['reason']}" if d["reason"] else ""))
    ex = d["explanation"]
    if ex and a.ranking is not None:
        t = Table(box=None, header_style="bold")
        for c in ("#", "PID", "NAME", "ADJ", "RSS", "SWAP", "PTBL", "ADJ TERM", "BADNESS", "vs VICTIM"):
            t.add_column(c, justify="left" if c == "NAME" else "right")
        rows = a.ranking.tasks if verbose else a.ranking.eligible[:5]
        v = a.ranking.victim
        for r in rows:
            b = r.terms
            t.add_row(str(r.rank or ""), str(r.task.pid), r.task.name, str(r.task.oom_score_adj),
                      str(b.rss), str(b.swapents), str(b.pgtables), str(b.adj_term) if r.eligible else "-",
                      str(b.points) if r.eligible else (r.reason or "-"),
                      f"{b.points - v.terms.points:+d}" if (r.eligible and v is not None) else "",
                      style="bold red" if r is v else ("dim" if not r.eligible else ""))
        console.print(t)
        if ex["runner_up"]:
            ru = ex["runner_up"]
            mp = ex.get("margin_pages")
            size = ("" if mp is None else f" ({human(mp)})" if ex.get("margin_pages_exact") else f", ≈{human(mp)}")
            console.print(f"why: {ex['victim']['name']} led {ru['name']} by {ex['margin_text']}{size}")
            if ex["spare_adj"] is not None:
                console.print(f"oom_score_adj ≤ {ex['spare_adj']} on {ex['victim']['name']} would have spared it; "
                              f"{ru['name']} ({ru['pid']}) would have died instead")
    for n in d["notes"]:
        console.print(Text("note: " + n, style="dim"))
    console.print()


def postmortem_summary(tally: Any, sources: list[tuple[str, bool]]) -> None:
    """The end-of-run tally: events and verdicts, overall and per host; unreadable inputs named."""
    read = [p for p, failed in sources if not failed]
    bad = [p for p, failed in sources if failed]
    where = ", ".join(read) if read else "no readable input"
    unread = f" ({len(bad)} unreadable: {', '.join(bad)})" if bad else ""
    n = tally.events
    if n == 0:
        console.print(f"no OOM event found in {where}{unread}")
        return

    def counts(c: dict[str, int]) -> str:
        return f"{c['agrees']} agree, {c['disagrees']} disagree, {c['undecidable']} undecidable"

    console.print(f"{n} OOM event{'s' if n != 1 else ''} in {where}{unread}: {counts(tally.counts())}")
    hosts = list(tally.hosts.values())
    if len(hosts) > 1 or (hosts and hosts[0].host):
        for h in hosts:
            label = h.host if h.host and h.source is None else (
                f"{h.host or '(no host name)'} in {h.source}")
            console.print(f"  {label}: {h.events} event{'s' if h.events != 1 else ''}, {counts(h.counts)}")
