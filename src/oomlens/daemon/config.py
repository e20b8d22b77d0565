"""The daemon's config file (TOML), parsed into one frozen :class:`DaemonConfig`.

Every error is a :class:`oomlens.errors.ConfigError` naming the file and the line (TOML syntax errors: the
line tomllib reports; bad values and unknown keys: the line of the key). Keys are documented in README.md
(section *Daemon*).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from oomlens.errors import ConfigError, InputError, PolicyError
from oomlens.policy.rules import Policy, load_policy

__all__ = ["ActionConfig", "DaemonConfig", "DomainConfig", "Threshold", "load_config", "parse_config",
           "parse_duration", "parse_threshold"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.I)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A headroom threshold: ``percent`` of the domain's T, or ``nbytes``."""

    percent: float | None = None
    nbytes: int | None = None

    def bytes_of(self, total: int) -> int:
        if self.percent is not None:
            return int(total * self.percent / 100)
        return self.nbytes or 0

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else f"{self.nbytes}B"


@dataclass(frozen=True, slots=True)
class DomainConfig:
    path: str                       # "global" or a memory cgroup path
    warn_below: Threshold
    kill_below: Threshold | None

    @property
    def is_global(self) -> bool:
        return self.path == "global"


@dataclass(frozen=True, slots=True)
class ActionConfig:
    kill: bool = False
    dry_run: bool = False
    grace: float = 5.0


DEFAULT_DOMAINS = (DomainConfig("global", Threshold(percent=10.0), Threshold(percent=2.0)),)


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    path: str
    interval: float = 1.0
    min_interval: float = 0.1
    scan_interval: float = 60.0
    listen: str | None = "127.0.0.1:9717"
    alert_exec: str | None = None
    top_k: int = 3
    domains: tuple[DomainConfig, ...] = DEFAULT_DOMAINS
    action: ActionConfig = ActionConfig()
    policy_path: str | None = None
    policy: Policy | None = None

    @property
    def listen_addr(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


def parse_duration(text: object) -> float:
    """``"1s"``, ``"250ms"``, ``"2m"``, ``"1h"`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    m = _DURATION.match(str(text)) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a duration (examples: \"1s\", \"250ms\", \"2m\")")
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


def parse_threshold(text: object) -> Threshold:
    """``"10%"`` of the domain's T, or a size: ``"512M"``, ``"2G"``, bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return Threshold(nbytes=text)
    if isinstance(text, str):
        m = _PERCENT.match(text)
        if m:
            pct = float(m[1])
            if pct > 100:
                raise ValueError(f"{text!r}: a percentage above 100%")
            return Threshold(percent=pct)
        m = _SIZE.match(text)
        if m:
            mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m[2].lower()]
            return Threshold(nbytes=int(float(m[1]) * mult))
    raise ValueError(f"{text!r} is not a size or percentage (examples: \"10%\", \"512M\", \"2G\")")


# --------------------------------------------------------------------------- locating keys for messages

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _line_of(text: str, table: str, index: int, key: str | None) -> int | None:
    """The 1-based line of ``key`` in ``[table]`` (``index``-th ``[[table]]``; "" = top level), or of the
    table header when ``key`` is None."""
    cur = ""
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        h = _HEADER.match(line)
        if h:
            cur = h[2].strip('"')
            seen[cur] = seen.get(cur, -1) + 1
            if key is None and cur == table and seen[cur] == index:
                return n
            continue
        k = _KEY.match(line)
        if k and k[1] == key and cur == table and seen.get(cur, 0) == index:
            return n
    return None


_TOP = {"interval", "min_interval", "scan_interval", "policy", "exporter", "alerts", "domain", "action"}
_TABLE_KEYS = {"exporter": {"listen"}, "alerts": {"exec", "top_k"}, "domain": {"path", "warn_below", "kill_below"},
               "action": {"kill", "dry_run", "grace"}}


def parse_config(text: str, path: str = "<config>", *, read_policy: bool = True) -> DaemonConfig:
    """Parse the TOML ``text`` (from ``path``, for messages). Raises ConfigError with the line."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        raise ConfigError(path, f"not valid TOML: {re.sub(r' [(]at line.*', '', str(e))}",
                          line=int(m[1]) if m else None, hint="check the quoting and brackets on that line") from None

    def fail(msg: str, table: str = "", key: str | None = None, index: int = 0) -> ConfigError:
        return ConfigError(path, msg, line=_line_of(text, table, index, key))

    for k in doc:
        if k not in _TOP:
            raise fail(f"unknown key {k!r} (known: {', '.join(sorted(_TOP))})", "", k)
    for table, keys in _TABLE_KEYS.items():
        val = doc.get(table)
        if val is None:
            continue
        rows = val if isinstance(val, list) else [val]
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise fail(f"{table!r} must be a table", "", table)
            for k in row:
                if k not in keys:
                    raise fail(f"unknown key {k!r} in [{table}] (known: {', '.join(sorted(keys))})", table, k, i)

    def get(table: str, key: str, conv: Any, default: Any, index: int = 0) -> Any:
        src: Any = doc if not table else doc.get(table, {})
        if isinstance(src, list):
            src = src[index]
        if key not in src:
            return default
        try:
            return conv(src[key])
        except (ValueError, TypeError) as e:
            where = f"[{table}] {key}" if table else key
            raise fail(f"{where}: {e}", table, key, index) from None

    def typed(t: type, what: str) -> Any:
        def conv(v: Any) -> Any:
            if not isinstance(v, t) or (t is int and isinstance(v, bool)):
                raise TypeError(f"expected {what}, got {v!r}")
            return v
        return conv

    interval = get("", "interval", parse_duration, 1.0)
    if not 0.01 <= interval <= 3600:
        raise fail(f"interval {interval}s: must be between 10ms and 1h", "", "interval")
    min_interval = min(get("", "min_interval", parse_duration, min(0.1, interval)), interval)
    scan_interval = max(get("", "scan_interval", parse_duration, 60.0), interval)
    listen = get("exporter", "listen", typed(str, "a string like \"127.0.0.1:9717\""), "127.0.0.1:9717")
    if listen:
        host, sep, port = listen.rpartition(":")
        if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise fail(f"[exporter] listen {listen!r}: expected HOST:PORT (\"\" disables the exporter)", "exporter", "listen")
    alert_exec = get("alerts", "exec", typed(str, "a program path"), None) or None
    if alert_exec is not None and not alert_exec.startswith("/"):
        raise fail(f"[alerts] exec {alert_exec!r}: give an absolute path (it is run without a shell)", "alerts", "exec")
    top_k = get("alerts", "top_k", typed(int, "an integer"), 3)
    if not 1 <= top_k <= 100:
        raise fail(f"[alerts] top_k {top_k}: must be 1..100", "alerts", "top_k")

    domains: list[DomainConfig] = []
    raw_domains = doc.get("domain")
    if raw_domains is not None and not isinstance(raw_domains, list):
        raise fail("domain must be an array of tables: write [[domain]]", "domain", None)
    for i, _row in enumerate(raw_domains or []):
        p = get("domain", "path", typed(str, "\"global\" or a cgroup path"), None, i)
        if not p:
            raise ConfigError(path, "[[domain]] without path", line=_line_of(text, "domain", i, None))
        warn = get("domain", "warn_below", parse_threshold, Threshold(percent=10.0), i)
        kill = get("domain", "kill_below", parse_threshold, None, i)
        if kill is not None and (kill.percent is None) == (warn.percent is None) and \
                (kill.percent or kill.nbytes or 0) > (warn.percent or warn.nbytes or 0):
            raise fail(f"[[domain]] {p}: kill_below {kill} is above warn_below {warn}", "domain", "kill_below", i)
        if any(d.path == p for d in domains):
            raise fail(f"[[domain]] {p} is listed twice", "domain", "path", i)
        domains.append(DomainConfig(p, warn, kill))
    if raw_domains is None:
        domains = list(DEFAULT_DOMAINS)

    action = ActionConfig(
        kill=get("action", "kill", typed(bool, "true or false"), False),
        dry_run=get("action", "dry_run", typed(bool, "true or false"), False),
        grace=get("action", "grace", parse_duration, 5.0),
    )
    if action.kill and not any(d.kill_below for d in domains):
        raise fail("[action] kill = true but no [[domain]] has kill_below", "action", "kill")

    policy_path = get("", "policy", typed(str, "a file path"), None)
    policy = None
    if policy_path and read_policy:
        try:
            policy = load_policy(policy_path)  # the file format and errors of `oomlens policy check`
        except (PolicyError, InputError) as e:
            raise ConfigError.from_policy(e) from None
    return DaemonConfig(path=path, interval=interval, min_interval=min_interval, scan_interval=scan_interval,
                        listen=listen or None, alert_exec=alert_exec, top_k=top_k, domains=tuple(domains),
                        action=action, policy_path=policy_path, policy=policy)


def load_config(path: str) -> DaemonConfig:
    """Read and parse the config file; ConfigError when it cannot be read or used."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "no such file", hint="give the path of a daemon config (see README, Daemon)") from None
    except PermissionError:
        raise ConfigError(path, "permission denied", hint="make it readable by the daemon's user") from None
    except UnicodeDecodeError as e:
        raise ConfigError(path, f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ConfigError(path, f"cannot read: {e.strerror}") from None
    return parse_config(text, path)
