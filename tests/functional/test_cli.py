"""CLI behaviour, table-driven (args, exit code, must-contain), on synthetic snapshots saved to disk."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from oomlens.cli.main import cli, parse_size
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemcgLimits, MemInfo, Task, VmSysctls
from oomlens.sources.live import save_snapshot
from sample_tasks import GIB, TASKS


def _snap(tasks, cgroup=None, release="6.18.44"):
    return Snapshot(taken_at="2026-11-26T00:00:00+00:00", hostname="h", kernel_release=release, page_size=4096,
                    uptime_s=10_000.0, meminfo=MemInfo(totalram_pages=4 * GIB), sysctls=VmSysctls(),
                    tasks=tuple(tasks), scan_order="pid", cgroup=cgroup,
                    cgroup_pids=tuple(t.pid for t in tasks) if cgroup else ())


@pytest.fixture()
def snapfile(tmp_path):
    p = tmp_path / "s.json"
    save_snapshot(_snap(TASKS), p)
    return str(p)


@pytest.fixture()
def cg_snapfile(tmp_path):
    p = tmp_path / "cg.json"
    save_snapshot(_snap(TASKS[2:], cgroup=MemcgLimits("/app", 1, memory_max=GIB)), p)
    return str(p)


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_top_json_contract(snapfile):
    r = run("top", "--snapshot", snapfile, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    # T = 4 GiB = 1048576 pages, T//1000 = 1048: batch 65536 + 500*1048 = 589536 beats java 131072+1000+500
    assert doc["victim"]["pid"] == 300 and doc["victim"]["badness"] == 65536 + 500 * 1048
    assert [t["pid"] for t in doc["tasks"]] == [300, 200, 100]
    assert doc["domain"] == {"constraint": "CONSTRAINT_NONE", "cgroup": None, "totalpages": 4 * GIB,
                             "global_totalpages": 4 * GIB, "page_size": 4096, "requested_cgroup": None,
                             "oom_kill_disabled": False}
    assert doc["kernel"] == {"release": "6.18.44", "era": "5.9+"}
    pg = next(t for t in doc["tasks"] if t["pid"] == 100)
    assert pg["badness"] == GIB + 512 - 900 * 1048 and pg["pgtables_pages"] == 512


def test_top_all_shows_reasons(snapfile):
    doc = json.loads(run("top", "--snapshot", snapfile, "--json", "--all").output)
    reasons = {t["pid"]: t["reason"] for t in doc["tasks"]}
    assert "global init" in reasons[1] and "kernel thread" in reasons[2] and reasons[300] is None
    assert doc["tasks"][-1]["badness"] is None and doc["tasks"][-1]["eligible"] is False


def test_top_cgroup_snapshot_uses_memcg_T(cg_snapfile):
    doc = json.loads(run("top", "--snapshot", cg_snapfile, "--json").output)
    # T = 262144 -> T//1000 = 262: batch 65536 + 131000 = 196536 < java 132572? no: 196536 > 132572 -> batch
    assert doc["domain"]["constraint"] == "CONSTRAINT_MEMCG" and doc["domain"]["totalpages"] == GIB
    assert doc["victim"]["pid"] == 300 and doc["victim"]["badness"] == 65536 + 500 * 262
    # oom_score stays on the global scale: 65536 + 500*1048 = 589536 -> 589536000/1048576 = 562 -> 1562*2/3 = 1041
    assert doc["victim"]["oom_score"] == 1041


def test_top_human_and_default_command(snapfile):
    r = run("top", "--snapshot", snapfile)
    assert r.exit_code == 0 and "next victim: 300 (batch job)" in r.output and "T/1000 = 1048" in r.output
    # no arguments at all runs `top` (on this host)
    r = CliRunner().invoke(cli, [])
    assert r.exit_code == 0 and "next victim" in r.output


def test_kernel_override(snapfile):
    doc = json.loads(run("top", "--snapshot", snapfile, "--json", "--kernel", "4.4").output)
    assert doc["kernel"]["era"] == "4.0-4.6"
    assert any("rules of kernel 4.4" in n for n in doc["notes"])


def test_explain(snapfile):
    r = run("explain", "300", "--snapshot", snapfile)
    assert r.exit_code == 0
    assert "the next OOM victim" in r.output and "would spare it" in r.output
    doc = json.loads(run("explain", "200", "--snapshot", snapfile, "--json").output)
    assert doc["is_victim"] is False and doc["rival"]["pid"] == 300
    # java 132572 + 1048a >= 589536 (java scanned earlier: needs strictly more? no, 5.9+: later wins ties;
    # java is earlier, so it needs > 589536): 1048a > 456964 -> a >= 437
    assert doc["victim_adj"] == 437


def test_predict_need_and_what_if(snapfile):
    doc = json.loads(run("predict", "--snapshot", snapfile, "--json", "--need", "1G").output)
    # batch frees 65536, java frees 131072+500 (file pages do not count) = 197108 < 262144, postgres next
    assert [k["pid"] for k in doc["kills"]] == [300, 200, 100] and doc["satisfied"] is True
    doc = json.loads(run("predict", "--snapshot", snapfile, "--json", "--set-adj", "300=0",
                         "--add", "leak:3G:0").output)
    assert doc["kills"][0]["name"] == "leak" and doc["kills"][0]["badness"] == 3 * GIB


@pytest.mark.parametrize("args,code,needle", [
    (["explain", "99999"], 3, "no such process in snapshot"),
    (["top", "--kernel", "banana"], 2, "not a kernel release"),
    (["predict", "--need", "lots"], 2, "not a size"),
    (["predict", "--need", "0"], 2, "less than one page"),
    (["predict", "--need", "1K"], 2, "less than one page"),
    (["predict", "--need", "\u0661\u0662M"], 2, "not a size"),  # Arabic-Indic digits: no size
    (["predict", "--set-adj", "\u0663\u0660\u0660=0"], 2, "PID=ADJ"),
    (["predict", "--set-adj", "300"], 2, "PID=ADJ"),
    (["predict", "--set-adj", "4242=5"], 3, "4242"),
    (["predict", "--add", "x:1G:2000"], 2, "-1000..1000"),
    (["top", "--cgroup", "/app"], 4, "no data for cgroup"),
])
def test_errors_exit_codes(snapfile, args, code, needle):
    r = CliRunner().invoke(cli, args + ["--snapshot", snapfile])
    assert r.exit_code == code, r.output
    assert needle in r.output


@pytest.mark.parametrize("content,needle", [
    (None, "no such file"), ("not json", "JSON"), ('{"format": "other"}', "format"),
])
def test_bad_snapshot_files(tmp_path, content, needle):
    p = tmp_path / "bad.json"
    if content is not None:
        p.write_text(content)
    r = CliRunner().invoke(cli, ["top", "--snapshot", str(p)])
    assert r.exit_code == 5 and needle in r.output and "hint:" in r.output


def test_bad_cgroup_path_live():
    r = CliRunner().invoke(cli, ["top", "--cgroup", "/no/such/cgroup-oomlens"])
    assert r.exit_code == 4 and "hint:" in r.output


@pytest.mark.parametrize("text,pages", [("4096", 1), ("1M", 256), ("1.5G", 393216), ("25600p", 25600), ("2GiB", 524288)])
def test_parse_size(text, pages):
    assert parse_size(text) == pages


@pytest.mark.parametrize("args", [("top", "--json"), ("explain", "300", "--json"), ("predict", "--json")])
def test_proc_commands_pause_the_cyclic_gc(snapfile, monkeypatch, args):
    import gc

    import oomlens.analysis.ranking as api

    seen = []
    real_rank = api.rank
    monkeypatch.setattr(api, "rank", lambda *a, **kw: seen.append(gc.isenabled()) or real_rank(*a, **kw))
    assert gc.isenabled()
    r = run(*args, "--snapshot", snapfile)
    assert r.exit_code == 0, r.output
    assert seen and not any(seen)  # paused while the command ran
    assert gc.isenabled()  # and restored


def test_main_freezes_the_heap_before_exit(monkeypatch):
    import gc
    import sys

    from oomlens.cli.main import main

    monkeypatch.setattr(sys, "argv", ["oomlens", "--version"])
    try:
        with pytest.raises(SystemExit) as ei:
            main()
        assert ei.value.code == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("args", [["top"], ["top", "--json"], ["postmortem"]])
def test_closed_pipe_is_not_an_error(args, tmp_path):
    """`oomlens top | head -1` exits 0: the reader stopping early is not an internal error. The output is
    made far larger than a pipe buffer, so the writes after the close really fail."""
    import subprocess
    import sys
    from pathlib import Path

    if args[0] == "postmortem":
        report = Path(__file__).parents[1] / "data" / "oomreport" / "corpus" / "020-oomanalyser-arch-6.1-doxygen.log"
        (tmp_path / "k.log").write_text(report.read_text() * 20)
        args = args + [str(tmp_path / "k.log")]
    else:
        many = [Task(pid=1000 + i, name=f"worker-{i}", rss_anon=100 + i) for i in range(3000)]
        save_snapshot(_snap(many), tmp_path / "big.json")
        args = args + ["--all", "--snapshot", str(tmp_path / "big.json")]
    p = subprocess.Popen([sys.executable, "-m", "oomlens", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read()
    p.stderr.close()
    assert p.wait(timeout=60) == 0, err


def test_top_json_streamed_is_the_same_bytes(tmp_path):
    """Compact output writes the rows a batch at a time: byte for byte the document json.dumps gives."""
    from oomlens.analysis.ranking import rank
    from oomlens.sources.live import load_snapshot

    many = [Task(pid=1000 + i, name=f"w\"{i}\\", rss_anon=100 + i % 7, oom_score_adj=i % 3) for i in range(700)]
    save_snapshot(_snap(TASKS + many), tmp_path / "big.json")
    r = run("top", "--json", "--all", "--snapshot", str(tmp_path / "big.json"))
    ranking = rank(load_snapshot(tmp_path / "big.json"))
    assert r.output == json.dumps(ranking.to_dict(), separators=(",", ":"), default=str) + "\n"
    only = run("top", "--json", "-n", "1", "--snapshot", str(tmp_path / "big.json"))
    assert json.loads(only.output)["tasks"] == [ranking.tasks[0].to_dict(4096)]


@pytest.mark.parametrize("doc", [{"rows": None, "z": [1]}, {"a": {"b": 1}, "rows": None}, {"rows": None},
                                 {"a": 1, "rows": None, "z": "x,]"}])
@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 600])
def test_emit_json_rows_any_position_and_count(doc, n, capsys):
    from oomlens.cli.main import _emit_json

    items = [{"i": i, "s": "é\n"} for i in range(n)]
    _emit_json(doc, ("rows", iter(items)))
    assert capsys.readouterr().out == json.dumps({**doc, "rows": items}, separators=(",", ":")) + "\n"


def test_help_lists_every_command_with_its_short_help():
    import importlib
    import pkgutil

    import click

    import oomlens.cli
    from oomlens.cli.main import COMMANDS

    # every click command defined at the top of a command module is registered (nothing forgotten)
    defined = {}
    for m in pkgutil.iter_modules(oomlens.cli.__path__):
        if m.name.endswith("_cmd"):
            mod = importlib.import_module(f"oomlens.cli.{m.name}")
            cmds = {k: v for k, v in vars(mod).items() if isinstance(v, click.Command) and v.callback is not None
                    and v.callback.__module__ == mod.__name__}
            sub = {id(c) for g in cmds.values() if isinstance(g, click.Group) for c in g.commands.values()}
            defined.update({v.name: (m.name, k) for k, v in cmds.items() if id(v) not in sub})
    assert defined == COMMANDS
    out = CliRunner().invoke(cli, ["--help"]).output
    listed = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(COMMANDS)
    assert all(len(line.split()) > 2 for line in listed), listed   # a short help after each name


def _imported_by(args, tmp_path):
    import subprocess
    import sys

    # -X importtime does not see importlib.import_module; the modules present at exit are the ground truth
    code = ("import atexit, sys\n"
            "atexit.register(lambda: open('mods.txt', 'w').write('\\n'.join(sorted(sys.modules))))\n"
            f"sys.argv = ['oomlens', *{list(args)!r}]\n"
            "from oomlens.cli.main import main\nmain()\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    return p, set((tmp_path / "mods.txt").read_text().split())


def test_a_command_imports_only_its_own_module(tmp_path, snapfile):
    p, mods = _imported_by(["top", "--json", "--snapshot", snapfile], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    # no other command's module (helpers such as cli.text, which formats every error, are shared)
    assert {m for m in mods if m.startswith("oomlens.cli.") and m.endswith("_cmd")} == {"oomlens.cli.top_cmd"}
    assert "oomlens.cli.render" not in mods and "oomlens.cli.html" not in mods  # --json renders nothing
    cfg = tmp_path / "d.toml"
    cfg.write_text('[exporter]\nlisten = ""\n')
    p, mods = _imported_by(["daemon", "--check", "--config", str(cfg)], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert {m for m in mods if m.startswith("oomlens.cli.") and m.endswith("_cmd")} == {"oomlens.cli.daemon_cmd"}
    assert "oomlens.policy.engine" in mods  # the daemon weighs by the policy engine ...
    assert not any(m == "rich" or m.startswith("rich.") for m in mods)  # ... but renders nothing


def test_selftest_list_names_every_builtin_scenario() -> None:
    from oomlens.selftest.harness import BUILTIN_SCENARIOS

    res = CliRunner().invoke(cli, ["selftest", "--list"])
    assert res.exit_code == 0, res.output
    listed = [line.split(":", 1)[0] for line in res.output.splitlines()]
    assert listed == [s.name for s in BUILTIN_SCENARIOS]


def test_selftest_names_the_hierarchy_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from oomlens.selftest import harness

    monkeypatch.setattr(harness, "_resolve_hierarchy",
                        lambda base: harness._Hierarchy("/sys/fs/cgroup", 2, "/"))
    assert harness.describe_hierarchy() == "cgroup v2 at /sys/fs/cgroup"
    monkeypatch.setattr(harness, "run_selftest", lambda scenarios, progress=None: [])
    res = CliRunner().invoke(cli, ["selftest", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["hierarchy"] == "cgroup v2 at /sys/fs/cgroup"


def test_oom_kill_disable_says_nobody_dies_in_top_explain_and_predict(tmp_path):
    # memory.oom_control oom_kill_disable=1: the kernel kills nobody in this memcg; no command may name a victim
    p = tmp_path / "okd.json"
    save_snapshot(_snap(TASKS[2:], cgroup=MemcgLimits("/app", 1, memory_max=GIB, oom_kill_disable=True)), p)
    top = json.loads(run("top", "--json", "--snapshot", str(p)).output)
    assert top["victim"] is None and top["outcome"] == "oom_kill_disabled"
    human = run("predict", "--snapshot", str(p)).output
    assert human.startswith("no victim") and "oom_kill_disable=1" in human.splitlines()[0]
    pred = json.loads(run("predict", "--json", "--snapshot", str(p)).output)
    assert pred["kills"] == [] and pred["outcome"] == "oom_kill_disabled"
    ex = run("explain", "200", "--snapshot", str(p))
    assert "kills nobody" in ex.output and "would spare" not in ex.output
