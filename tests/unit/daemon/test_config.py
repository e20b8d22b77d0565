"""Daemon config: every bad input is one error naming the file and the line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from oomlens.daemon.config import Threshold, parse_config, parse_duration, parse_threshold
from oomlens.errors import ConfigError

GOOD = """interval = "1s"
[exporter]
listen = "127.0.0.1:9717"
[alerts]
exec = "/usr/local/bin/notify"
top_k = 3
[[domain]]
path = "global"
warn_below = "10%"
kill_below = "2%"
[[domain]]
path = "/some/memcg"
warn_below = "512M"
[action]
kill = false
dry_run = false
grace = "5s"
"""


def test_the_documented_example_parses() -> None:
    cfg = parse_config(GOOD, "d.toml")
    assert cfg.interval == 1.0 and cfg.top_k == 3 and cfg.alert_exec == "/usr/local/bin/notify"
    assert cfg.listen_addr == ("127.0.0.1", 9717)
    assert [d.path for d in cfg.domains] == ["global", "/some/memcg"]
    assert cfg.domains[0].warn_below == Threshold(percent=10.0)
    assert cfg.domains[1].warn_below == Threshold(nbytes=512 << 20) and cfg.domains[1].kill_below is None
    assert cfg.action.grace == 5.0 and not cfg.action.kill


@pytest.mark.parametrize("edit, line, words", [
    (("top_k = 3", "top_k = 0"), 6, "top_k"),
    (('grace = "5s"', 'grace = "soon"'), 17, "duration"),
    (('warn_below = "512M"', 'warn_below = "lots"'), 13, "size or percentage"),
    (('kill = false', 'kil = false'), 15, "unknown key 'kil'"),
    (('listen = "127.0.0.1:9717"', 'listen = "localhost"'), 3, "HOST:PORT"),
    (('exec = "/usr/local/bin/notify"', 'exec = "notify"'), 5, "absolute path"),
    (('kill_below = "2%"', 'kill_below = "20%"'), 10, "above warn_below"),
    (('path = "/some/memcg"', 'path = "global"'), 12, "listed twice"),
    (('interval = "1s"', 'interval = "1s'), 1, "not valid TOML"),
])
def test_errors_name_the_line(edit: tuple[str, str], line: int, words: str) -> None:
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "d.toml")
    assert ei.value.line == line, str(ei.value)
    assert str(ei.value).startswith(f"d.toml:{line}: ")
    assert words in str(ei.value)


def test_kill_without_any_kill_threshold_is_refused() -> None:
    text = GOOD.replace('kill_below = "2%"\n', "").replace("kill = false", "kill = true")
    with pytest.raises(ConfigError, match="no \\[\\[domain\\]\\] has kill_below"):
        parse_config(text, "d.toml")


def test_units() -> None:
    assert parse_duration("250ms") == 0.25 and parse_duration("2m") == 120 and parse_duration(3) == 3.0
    assert parse_threshold("1.5G") == Threshold(nbytes=3 << 29)
    assert Threshold(percent=10).bytes_of(1000) == 100
    with pytest.raises(ValueError):
        parse_threshold("120%")


def test_bad_policy_file_is_a_config_error_with_the_policy_lines(tmp_path) -> None:
    pol = tmp_path / "p.toml"
    pol.write_text('[[rule]]\nname = "x"\nmatch = { comm = "a" }\nintent = "guard"\n\n[[rule]]\nname = "x"\nadj = 1\n')
    with pytest.raises(ConfigError) as ei:
        parse_config(f'policy = "{pol}"\n', "d.toml")
    assert ei.value.line == 4 and ei.value.path == str(pol)
    assert str(ei.value).splitlines() == [f"{pol}:4: intent must be one of protect, prefer, immune, default; got 'guard'",
                                          f"{pol}:7: rule name 'x' already used on line 1"]


def test_good_policy_file_is_read_by_the_policy_engine(tmp_path) -> None:
    pol = tmp_path / "p.toml"
    pol.write_text('[[rule]]\nname = "pg"\nmatch = { comm = "postgres", unit = "postgresql*.service" }\n'
                   'intent = "protect"\n')
    cfg = parse_config(f'policy = "{pol}"\n', "d.toml")
    assert cfg.policy is not None and [(r.name, r.adj, r.line) for r in cfg.policy.rules] == [("pg", -900, 1)]
    assert cfg.policy.rules[0].match.unit == "postgresql*.service"
    assert parse_config("", "d.toml").policy is None


def test_cli_refuses_to_start_with_the_policy_errors_and_exit_13(tmp_path) -> None:
    pol = tmp_path / "p.toml"
    pol.write_text('[[rule]]\nname = "old-style"\ncomm = "db"\nintent = "protect"\n')  # the stand-in's format
    cfg = tmp_path / "d.toml"
    cfg.write_text(f'policy = "{pol}"\n[exporter]\nlisten = ""\n')
    p = subprocess.run([sys.executable, "-m", "oomlens", "daemon", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 13
    lines = p.stderr.strip().splitlines()
    assert lines[0] == f"oomlens: error: {pol}:3: unknown rule key 'comm' (known: name, match, adj, intent)"
    assert lines[1].startswith("  hint: see README 'Policy file'") and len(lines) == 2


def test_cli_refuses_to_start_with_one_line_and_exit_10(tmp_path) -> None:
    cfg = tmp_path / "d.toml"
    cfg.write_text(GOOD.replace('grace = "5s"', 'grace = "soon"'))
    p = subprocess.run([sys.executable, "-m", "oomlens", "daemon", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 13
    lines = p.stderr.strip().splitlines()
    assert lines[0] == f"oomlens: error: {cfg}:17: [action] grace: 'soon' is not a duration (examples: \"1s\", \"250ms\", \"2m\")"
    assert lines[1].startswith("  hint: ") and len(lines) == 2


def test_cli_missing_config_file(tmp_path) -> None:
    p = subprocess.run([sys.executable, "-m", "oomlens", "daemon", "--config", str(tmp_path / "nope.toml")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 13 and "no such file" in p.stderr
