"""The policy file (TOML): an ordered list of rules; the first rule that matches a process decides its
``oom_score_adj``.

::

    [[rule]]
    name = "hbase-regionserver"
    match = { cmdline = "HRegionServer", user = "hbase" }
    adj = -800                    # or: intent = "protect" | "prefer" | "immune" | "default"

Every error is one line with the file's line number; a file with any error yields no policy at all.
:func:`load_policy` reads a file (``oomlens policy``, ``oomlens audit --policy`` and the daemon's ``policy =``).
"""

from __future__ import annotations

import enum
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol

from oomlens.errors import InputError, PolicyError
from oomlens.kernel.types import OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN

__all__ = ["MATCH_KEYS", "Intent", "Match", "Policy", "PolicyError", "ProcessView", "Rule", "load_policy",
           "parse_policy"]


class Intent(enum.Enum):
    """Named values. ``immune`` (-1000) exempts a process from the OOM killer altogether: always warned."""

    PROTECT = -900
    PREFER = 500
    IMMUNE = -1000
    DEFAULT = 0


IMMUNE_WARNING = ("oom_score_adj -1000 makes the process immune: if it holds most of the memory, the OOM killer "
                  "finds nothing worth killing and kills everything else, then the box panics")

MATCH_KEYS = ("comm", "cmdline", "exe", "user", "cgroup", "unit")
RULE_KEYS = ("name", "match", "adj", "intent")


class ProcessView(Protocol):
    """What a rule may look at (sources.procinfo.ProcessInfo provides it, reading lazily)."""

    pid: int
    comm: str
    uid: int

    @property
    def cmdline(self) -> str | None: ...
    @property
    def exe(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def cgroup(self) -> str | None: ...
    def unit_name(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Match:
    comm: str | None = None
    cmdline: re.Pattern[str] | None = None
    exe: str | None = None
    user: str | None = None
    cgroup: str | None = None
    unit: str | None = None

    def __call__(self, p: ProcessView) -> bool:
        """All given keys must hold; the cheap ones are tested first, so a rule reads as little as it can."""
        if self.comm is not None and p.comm != self.comm:
            return False
        if self.user is not None:
            if self.user.isascii() and self.user.isdigit():
                if p.uid != int(self.user):
                    return False
            elif p.user != self.user:
                return False
        if self.cgroup is not None and not _glob(p.cgroup, self.cgroup):
            return False
        if self.unit is not None and not _glob(p.unit_name(), self.unit):
            return False
        if self.exe is not None and not _glob(p.exe, self.exe):
            return False
        if self.cmdline is not None:
            cmd = p.cmdline
            if cmd is None or self.cmdline.search(cmd) is None:
                return False
        return True

    def describe(self) -> dict[str, str]:
        out = {k: getattr(self, k) for k in MATCH_KEYS if getattr(self, k) is not None}
        if self.cmdline is not None:
            out["cmdline"] = self.cmdline.pattern
        return out


def _glob(value: str | None, pattern: str) -> bool:
    return value is not None and fnmatchcase(value, pattern)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    adj: int
    intent: Intent | None
    line: int

    @property
    def warning(self) -> str | None:
        return IMMUNE_WARNING if self.adj == OOM_SCORE_ADJ_MIN else None

    @property
    def effective_intent(self) -> Intent:
        """The intent named, or for an ``adj = N`` rule the one its value implies: -1000 immune, below 0
        protect, above 0 prefer, 0 default (the daemon's early kill and alerts weigh processes by it)."""
        if self.intent is not None:
            return self.intent
        if self.adj == OOM_SCORE_ADJ_MIN:
            return Intent.IMMUNE
        return Intent.PROTECT if self.adj < 0 else Intent.PREFER if self.adj > 0 else Intent.DEFAULT


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    source: str = "<policy>"

    def rule_for(self, p: ProcessView) -> Rule | None:
        for r in self.rules:
            if r.match(p):
                return r
        return None


_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _rule_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """For each ``[[rule]]`` header: its line and the lines of the keys in it (``[rule.match]`` sub-tables
    and ``match.x = ...`` dotted keys count as the line of ``match``)."""
    out: list[tuple[int, dict[str, int]]] = []
    inside = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if re.match(r"^\[\[\s*rule\s*\]\]", line):
            out.append((n, {}))
            inside = True
        elif re.match(r"^\[\s*rule\s*\.\s*match\s*\]", line) and out:
            out[-1][1].setdefault("match", n)
            inside = False
        elif line.startswith("["):
            inside = False
        elif inside:
            m = re.match(r"^[\"']?([A-Za-z0-9_\-]+)[\"']?\s*[.=]", line)
            if m:
                out[-1][1].setdefault(m.group(1), n)
    return out


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate a policy file. Raises PolicyError listing every problem (line, message)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        raise PolicyError(source, [(int(m.group(1)) if m else 1, f"not valid TOML: {_TOML_LINE.sub('', str(exc)).strip()}")]) \
            from None
    problems: list[tuple[int, str]] = []
    for key in doc:
        if key != "rule":
            problems.append((_top_line(text, key), f"unknown top-level key {key!r} (a policy has only [[rule]] tables)"))
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list):
        raise PolicyError(source, problems + [(_top_line(text, "rule"), "'rule' must be an array of tables: write [[rule]]")])
    lines = [x for x in _rule_lines(text)]
    rules: list[Rule] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        head, keyline = lines[i] if i < len(lines) else (1, {})
        at = lambda k, head=head, keyline=keyline: keyline.get(k, head)
        if not isinstance(raw, dict):
            problems.append((head, "a rule must be a table"))
            continue
        rule = _parse_rule(raw, head, at, problems, names)
        if rule is not None:
            rules.append(rule)
    if not raw_rules and not problems:
        problems.append((1, "no [[rule]] tables: the policy would do nothing"))
    if problems:
        raise PolicyError(source, sorted(problems))
    return Policy(tuple(rules), source)


def load_policy(path: str) -> Policy:
    """Read and parse the policy file ``path``: InputError when it cannot be read, PolicyError (every problem
    with its line) when it is not a valid policy."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InputError(path, f"cannot read the policy file: {exc.strerror}",
                         hint="give the path of a TOML policy file (see README 'Policy file')") from None
    except UnicodeDecodeError:
        raise InputError(path, "the policy file is not UTF-8 text") from None
    return parse_policy(text, path)


def _top_line(text: str, key: str) -> int:
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if s.startswith(key) or s.startswith(f"[{key}") or s.startswith(f"[[{key}"):
            return n
    return 1


def _parse_rule(raw: dict[str, Any], head: int, at: Any, problems: list[tuple[int, str]],
                names: dict[str, int]) -> Rule | None:
    bad = len(problems)
    for k in raw:
        if k not in RULE_KEYS:
            problems.append((at(k), f"unknown rule key {k!r} (known: {', '.join(RULE_KEYS)})"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append((at("name"), "every rule needs a name = \"...\" (shown in check/apply/audit output)"))
        name = "?"
    elif name in names:
        problems.append((at("name"), f"rule name {name!r} already used on line {names[name]}"))
    else:
        names[name] = head
    match = _parse_match(raw.get("match", {}), at("match"), problems)
    has_adj, has_intent = "adj" in raw, "intent" in raw
    adj = 0
    intent = None
    if has_adj == has_intent:
        problems.append((head, f"rule {name!r} needs exactly one of adj = N or intent = \"protect\"|\"prefer\"|"
                               "\"immune\"|\"default\""))
    elif has_adj:
        v = raw["adj"]
        if isinstance(v, bool) or not isinstance(v, int) or not OOM_SCORE_ADJ_MIN <= v <= OOM_SCORE_ADJ_MAX:
            problems.append((at("adj"), f"adj must be an integer from {OOM_SCORE_ADJ_MIN} to {OOM_SCORE_ADJ_MAX}, "
                                        f"got {v!r}"))
        else:
            adj = v
    else:
        v = raw["intent"]
        try:
            intent = Intent[str(v).upper()] if isinstance(v, str) else None
        except KeyError:
            intent = None
        if intent is None:
            problems.append((at("intent"), f"intent must be one of protect, prefer, immune, default; got {v!r}"))
        else:
            adj = intent.value
    if len(problems) > bad or match is None:
        return None
    return Rule(name, match, adj, intent, head)


def _parse_match(raw: Any, line: int, problems: list[tuple[int, str]]) -> Match | None:
    if not isinstance(raw, dict):
        problems.append((line, "match must be a table: match = { comm = \"...\" }"))
        return None
    ok = True
    for k, v in raw.items():
        if k not in MATCH_KEYS:
            problems.append((line, f"unknown match key {k!r} (known: {', '.join(MATCH_KEYS)})"))
            ok = False
        elif k == "user" and isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            continue
        elif not isinstance(v, str) or not v:
            problems.append((line, f"match.{k} must be a non-empty string, got {v!r}"))
            ok = False
    pattern = None
    if ok and "cmdline" in raw:
        try:
            pattern = re.compile(raw["cmdline"])
        except re.error as exc:
            problems.append((line, f"match.cmdline is not a valid regular expression: {exc}"))
            ok = False
    if ok and "comm" in raw and len(raw["comm"].encode()) > 15:
        problems.append((line, f"match.comm {raw['comm']!r} is longer than 15 bytes: the kernel truncates comm, so "
                               "it can never match (match cmdline or exe instead)"))
        ok = False
    if not ok:
        return None
    user = raw.get("user")
    return Match(comm=raw.get("comm"), cmdline=pattern, exe=raw.get("exe"),
                 user=str(user) if user is not None else None, cgroup=raw.get("cgroup"), unit=raw.get("unit"))
