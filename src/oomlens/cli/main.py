"""``oomlens`` command line: a thin edge over :mod:`oomlens.analysis.ranking`. Errors become exit codes here only.

Imports stay light at module level (click only): ``top --json`` must start fast; rich is loaded by the
human renderers alone.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

import click

from oomlens.cli import exit_codes
from oomlens.errors import OomLensError

PAGE = 4096
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)?\s*$", re.I)


def parse_size(text: str, page_size: int = PAGE) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``300000p`` (pages) or plain bytes → pages."""
    m = _SIZE.match(text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size (examples: 512M, 2G, 1048576, 25600p)")
    num, unit = float(m.group(1)), m.group(2).lower()
    if unit == "p":
        return int(num)
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[unit]
    return int(num * mult) // page_size


def _fail(exc: OomLensError) -> None:
    code = exit_codes.code_for(exc)
    msg = f"oomlens: error: {exc}"
    if exc.hint:
        msg += f"\n  hint: {exc.hint}"
    click.echo(msg, err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map the oomlens error hierarchy to documented exit codes, in one place."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OomLensError as exc:
            if os.environ.get("OOMLENS_DEBUG"):
                raise
            _fail(exc)
        except BrokenPipeError:  # `oomlens top | head`
            sys.stderr.close()
            sys.exit(exit_codes.OK)

    return wrapper


def one_shot(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command that reads /proc with the cyclic garbage collector paused.

    Such a command builds about ten objects per process in one go and keeps them to the end; they form no
    reference cycles, so the collector's passes over them (one per 700 new objects: ~60 in `top` on 3,000
    processes, 4% of its time) free nothing. Reference counting still frees everything; the collector's
    state is restored afterwards.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def _emit_json(doc: dict[str, Any], rows: tuple[str, Iterable[Any]] | None = None) -> None:
    """Write ``doc`` as JSON: indented for a person at a terminal; compact (and ~3x faster to encode) for
    pipes and files. ``rows`` = (key, items) puts the list of items at ``doc[key]`` (a placeholder there
    keeps its place among the keys); compact output encodes and writes them a batch at a time, so the
    whole document never sits in memory as dicts and text at once: the same bytes, ~30% faster for
    `top --json` on 3,000 processes (every new page of memory is a page fault)."""
    out = sys.stdout
    if out.isatty() or rows is None:
        if rows is not None:
            doc = {**doc, rows[0]: list(rows[1])}
        out.write(json.dumps(doc, indent=1, default=str) if out.isatty()
                  else json.dumps(doc, separators=(",", ":"), default=str))
        out.write("\n")
        return
    encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
    key, items = rows
    keys = list(doc)
    at = keys.index(key)
    head = encode({k: doc[k] for k in keys[:at]})[:-1]  # '{"a":1' (or '{')
    tail = encode({k: doc[k] for k in keys[at + 1:]})[1:]  # '"z":2}' (or '}')
    out.write(head + ("," if at else "") + encode(key) + ":[")
    batch: list[Any] = []
    first = True
    for item in items:
        batch.append(item)
        if len(batch) == _BATCH:
            out.write(("" if first else ",") + encode(batch)[1:-1])
            batch, first = [], False
    if batch:
        out.write(("" if first else ",") + encode(batch)[1:-1])
    out.write("]" + ("," if tail != "}" else "") + tail + "\n")


_BATCH = 256


def _snapshot(snapshot_file: str | None, cgroup: str | None, proc: str, legacy: bool = False) -> Any:
    from oomlens.kernel import snapshot as snap_mod
    from oomlens.sources import live

    if snapshot_file:
        snap = live.load_snapshot(snapshot_file)
        if cgroup is not None:
            snap = snap_mod.restrict_to_cgroup(snap, cgroup)
        return snap
    from oomlens.sources.procfs import ProcFS

    return live.take_snapshot(ProcFS(proc), cgroup=cgroup, legacy=legacy)


def _legacy(kernel: str | None) -> bool:
    if not kernel:
        return False
    from oomlens.kernel.eras import era_for

    return era_for(kernel).scoring == "legacy"


domain_options = [
    click.option("--cgroup", "cgroup", metavar="PATH",
                 help="Memory cgroup as OOM domain: /sys/fs/cgroup/... path or the path shown in /proc/PID/cgroup."),
    click.option("--snapshot", "snapshot_file", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Analyse a snapshot saved by `oomlens snapshot` instead of this host."),
    click.option("--kernel", metavar="VERSION", help="Score with another kernel's rules, e.g. 3.10 or 4.19."),
    click.option("--proc", default="/proc", show_default=True, hidden=True, help="procfs root."),
]


def with_domain(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(domain_options):
        fn = opt(fn)
    return fn


@click.group(invoke_without_command=True, epilog=exit_codes.HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oomlens")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Who will the Linux OOM killer take next, and why. With no command: `oomlens top`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(top)


SORT_KEYS = {
    "badness": None,
    "rss": lambda t: -(t.task.rss),
    "swap": lambda t: -t.task.swapents,
    "adj": lambda t: -t.task.oom_score_adj,
    "oom_score": lambda t: -t.oom_score,
    "pid": lambda t: t.task.pid,
    "name": lambda t: t.task.name,
}


@cli.command(epilog=exit_codes.HELP)
@with_domain
@click.option("-n", "limit", type=click.IntRange(min=1), default=None,
              help="Show the first N tasks (default: 20 in a terminal, all with --json).")
@click.option("--all", "include_all", is_flag=True, help="Include tasks that are not eligible, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (memory in pages).")
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="badness", show_default=True,
              help="Order of the table; `badness` is the kernel's kill order.")
@handle_errors
@one_shot
def top(cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str, limit: int | None,
        include_all: bool, as_json: bool, sort: str) -> None:
    """Rank processes the way the OOM killer would: victim first, with the kernel's arithmetic."""
    from oomlens.analysis.ranking import rank

    ranking = rank(_snapshot(snapshot_file, cgroup, proc, _legacy(kernel)), kernel=kernel)
    rows = ranking.tasks if include_all else ranking.eligible
    key = SORT_KEYS[sort]
    if key is not None:
        rows = sorted(rows, key=key)
    if limit is not None:
        rows = rows[:limit]
    if as_json:
        _emit_json(ranking.to_dict(()), ("tasks", ranking.task_dicts(rows)))
        return
    from oomlens.cli import render

    render.top(ranking, rows if limit is not None or not sys.stdout.isatty() else rows[:20],
               truncated=limit is None and sys.stdout.isatty() and len(rows) > 20)


@cli.command(epilog=exit_codes.HELP)
@click.argument("pid", type=int)
@with_domain
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@one_shot
def explain(pid: int, cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str,
            as_json: bool) -> None:
    """Write out the kernel's arithmetic for PID: rank, margin, and what would change the outcome."""
    from oomlens.analysis import ranking as api

    ranking = api.rank(_snapshot(snapshot_file, cgroup, proc, _legacy(kernel)), kernel=kernel)
    ex = api.explain(ranking, pid)
    if cgroup is None and snapshot_file is None:
        ex.notes.extend(_memcg_domains_note(pid, proc))
    if as_json:
        _emit_json(ex.to_dict())
        return
    from oomlens.cli import render

    render.explain(ex)


def _memcg_domains_note(pid: int, proc: str) -> list[str]:
    """A process in a memory cgroup with a limit (its own or an ancestor's) has a second, usually tighter,
    OOM domain: say so, with the command that ranks it there."""
    from oomlens.errors import OomLensError as _Err
    from oomlens.sources.cgroupfs import CgroupFS
    from oomlens.sources.procfs import ProcFS

    try:
        cgfs = CgroupFS(procfs=ProcFS(proc))
        cg = cgfs.memcg_of(pid)
        limited = [m for m in (cgfs.limits(cg), *cgfs.ancestor_limits(cg)) if m.memory_max is not None]
    except (_Err, OSError):
        return []
    if not limited:
        return []
    m = limited[0]
    return [f"pid {pid} is in memory cgroup {cg.path}; {m.path} has a limit of {m.memory_max} pages, so a memcg "
            f"OOM there ranks it among that cgroup's tasks with T = that limit: "
            f"`oomlens explain {pid} --cgroup {cg.path}`"]


def _parse_add(values: tuple[str, ...]) -> list[tuple[str, int, int]]:
    out = []
    for v in values:
        parts = v.split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise click.BadParameter(f"{v!r}: expected NAME:RSS[:ADJ], e.g. java:4G:0", param_hint="--add")
        adj = int(parts[2]) if len(parts) == 3 and re.fullmatch(r"-?\d+", parts[2]) else (0 if len(parts) == 2 else None)
        if adj is None or not -1000 <= adj <= 1000:
            raise click.BadParameter(f"{v!r}: ADJ must be an integer in -1000..1000", param_hint="--add")
        out.append((parts[0], parse_size(parts[1]), adj))
    return out


def _parse_set_adj(values: tuple[str, ...]) -> dict[int, int]:
    out = {}
    for v in values:
        m = re.fullmatch(r"(\d+)=(-?\d+)", v.strip())
        if not m or not -1000 <= int(m.group(2)) <= 1000:
            raise click.BadParameter(f"{v!r}: expected PID=ADJ with ADJ in -1000..1000", param_hint="--set-adj")
        out[int(m.group(1))] = int(m.group(2))
    return out


@cli.command(epilog=exit_codes.HELP)
@with_domain
@click.option("--need", metavar="SIZE", help="Stop once this much memory would be freed (e.g. 2G).")
@click.option("--add", multiple=True, metavar="NAME:RSS[:ADJ]", help="What-if: add a process (newest).")
@click.option("--set-adj", multiple=True, metavar="PID=N", help="What-if: change a process's oom_score_adj.")
@click.option("--limit", "limit_size", metavar="SIZE", help="What-if: the cgroup's limit (or the machine's RAM).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@one_shot
def predict(cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str, need: str | None,
            add: tuple[str, ...], set_adj: tuple[str, ...], limit_size: str | None, as_json: bool) -> None:
    """Who dies, in what order: the kernel kills one process per OOM, re-choosing each time."""
    from oomlens.analysis import ranking as api

    snap = _snapshot(snapshot_file, cgroup, proc, _legacy(kernel))
    page = getattr(snap, "page_size", PAGE)
    snap = api.apply_what_if(snap, add=_parse_add(add), set_adj=_parse_set_adj(set_adj),
                             limit_pages=parse_size(limit_size, page) if limit_size else None)
    need_pages = parse_size(need, page) if need else None
    steps = api.predict_snapshot(snap, kernel=kernel, need_pages=need_pages)
    ranking = api.rank(snap, kernel=kernel)
    doc = {
        "kernel": {"release": ranking.release, "era": ranking.era.name},
        "domain": {"constraint": ranking.constraint.value, "cgroup": ranking.cgroup, "totalpages": ranking.totalpages},
        "need_pages": need_pages,
        "satisfied": need_pages is None or (bool(steps) and steps[-1].cumulative_pages >= need_pages),
        "kills": [{"order": i, **s.victim.to_dict(page), "also_killed": [t.pid for t in s.also_killed],
                   "freed_pages": s.freed_pages, "cumulative_pages": s.cumulative_pages}
                  for i, s in enumerate(steps, 1)],
        "notes": ["the kernel kills one process per OOM invocation and re-evaluates; this order assumes "
                  "nothing else changes between kills",
                  "freed = anon + swap + page tables; file pages stay in the page cache, shmem while referenced"]
                 + ranking.notes,
    }
    if as_json:
        _emit_json(doc)
        return
    from oomlens.cli import render

    render.predict(doc, page)


@cli.command(epilog=exit_codes.HELP)
@click.option("-o", "--output", "output", metavar="FILE", required=True, type=click.Path(dir_okay=False),
              help="Where to write the JSON snapshot ('-' for stdout).")
@click.option("--cgroup", metavar="PATH", help="Also record this memory cgroup as the OOM domain.")
@click.option("--legacy", is_flag=True, help="Also record cpu times, nice and capabilities (for <=2.6.35 rules).")
@click.option("--proc", default="/proc", show_default=True, hidden=True)
@handle_errors
@one_shot
def snapshot(output: str, cgroup: str | None, legacy: bool, proc: str) -> None:
    """Save everything the model needs as JSON, to analyse elsewhere with --snapshot FILE."""
    from oomlens.sources import live
    from oomlens.sources.procfs import ProcFS

    snap = live.take_snapshot(ProcFS(proc), cgroup=cgroup, legacy=legacy, with_oom_scores=True, with_stat=True)
    if output == "-":
        sys.stdout.write(snap.to_json() + "\n")
    else:
        live.save_snapshot(snap, output)
        click.echo(f"wrote {output}: {len(snap.tasks)} tasks, kernel {snap.kernel_release}", err=True)


@cli.command(epilog=exit_codes.HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--scenario", "names", multiple=True, metavar="NAME", help="Run only these scenarios.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@handle_errors
def selftest(as_json: bool, names: tuple[str, ...], list_only: bool) -> None:
    """Check the model against this kernel: provoke real OOM kills in a throwaway memory cgroup.

    Needs root and a writable memory cgroup. Never touches the global domain; always removes its cgroups
    and processes.
    """
    from oomlens.selftest import harness as st

    scenarios = list(st.BUILTIN_SCENARIOS)
    if names:
        unknown = sorted(set(names) - {s.name for s in scenarios})
        if unknown:
            raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}; see --list", param_hint="--scenario")
        scenarios = [s for s in scenarios if s.name in names]
    if list_only:
        for s in scenarios:
            click.echo(f"{s.name}: {s.notes or s.expected}")
        return
    progress = None if as_json else (lambda msg: click.echo(msg, err=True))
    results = st.run_selftest(scenarios, progress=progress)
    ok = all(r.agrees for r in results)
    if as_json:
        _emit_json({"agrees": ok, "results": [r.to_dict() if hasattr(r, "to_dict") else vars(r) for r in results]})
    else:
        for r in results:
            mark = "ok  " if r.agrees else "FAIL"
            click.echo(f"{mark} {r.scenario.name}: predicted {r.predicted_pid}, kernel killed {r.kernel_victim_pid} "
                       f"({r.kernel_victim_name})")
        click.echo(f"{sum(r.agrees for r in results)}/{len(results)} scenarios agree with the kernel")
    sys.exit(exit_codes.OK if ok else exit_codes.SELFTEST_FAILED)


def main() -> None:
    try:
        cli(prog_name="oomlens")
    except OomLensError as exc:  # pragma: no cover - handled per command
        _fail(exc)
    finally:
        # The process ends here. The interpreter's final collection would walk every live object (every
        # module's functions and classes) to find no cycles: ~4 ms after `top`. Frozen objects are skipped.
        gc.freeze()


@cli.command(epilog=exit_codes.HELP)
@click.argument("files", nargs=-1, metavar="[FILE ...]")
@click.option("--since", metavar="TIME", help="With no FILE: read the host's kernel log from TIME (journalctl syntax).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, streamed event by event.")
@click.option("-v", "--verbose", is_flag=True, help="Show every candidate and all notes.")
@handle_errors
def postmortem(files: tuple[str, ...], since: str | None, as_json: bool, verbose: bool) -> None:
    """Explain kernel OOM reports: what the kernel did, what the model says, and whether they agree.

    FILE may be plain or gzip-compressed, '-' for stdin; with no FILE, this host's kernel log
    (journal if present, else the ring buffer). Exit 0 whenever the input was read, even with no OOM event.
    """
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.oomreport.model import OomEvent
    from oomlens.oomreport.scan import iter_events
    from oomlens.sources.kernellog import iter_file_events

    def events() -> Iterator[OomEvent]:
        if not files:
            from oomlens.sources.kernellog import iter_kernel_log_lines

            yield from iter_events(iter_kernel_log_lines(since), "kernel log")
        for f in files:
            yield from iter_file_events(f)

    analyses = analyze_events(events())
    if as_json:
        out = sys.stdout
        out.write('{"events":[')
        for i, a in enumerate(analyses):
            out.write(("," if i else "") + json.dumps(a.to_dict(), separators=(",", ":"), default=str))
            out.flush()
        out.write("]}\n")
        return
    from oomlens.cli import render

    n = 0
    for a in analyses:
        render.postmortem_event(a, verbose=verbose)
        n += 1
    render.postmortem_summary(n, files or ("kernel log",))
