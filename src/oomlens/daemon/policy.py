"""The protection rules the daemon needs: which processes are ``protect``ed, ``prefer``red or ``immune``.

A stop-gap behind a tiny interface (:meth:`Policy.intent_of`, :meth:`Policy.drift`) until the policy engine
(``oomlens.policy``, branch ``prot``) lands; then :func:`load_policy` reads the file through it. The file is
TOML with one ``[[rule]]`` per rule::

    [[rule]]
    name = "postgres"
    comm = "postgres|pg_.*"      # regular expression, full match on the comm (15 characters)
    cgroup = "/system.slice"     # optional: the process's memcg path starts with this
    intent = "protect"           # protect | prefer | immune
    oom_score_adj = -500         # optional: the adj the rule wants; processes with another adj are drift

First matching rule wins. ``protect``: alert when the process is a domain's victim or in its top K, never
killed early; ``immune``: never killed early, no alert; ``prefer``: killed early before the others.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from oomlens.kernel.types import Task

__all__ = ["INTENTS", "Policy", "Rule", "load_policy", "parse_policy"]

INTENTS = ("protect", "prefer", "immune")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    comm: re.Pattern[str] | None
    cgroup: str | None
    intent: str
    oom_score_adj: int | None = None

    def matches(self, task: Task, memcg: str | None = None) -> bool:
        if self.comm is not None and not self.comm.fullmatch(task.name):
            return False
        if self.cgroup is not None:
            cg = memcg or task.memcg or ""
            if not (cg == self.cgroup or cg.startswith(self.cgroup.rstrip("/") + "/")):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...] = ()

    def rule_of(self, task: Task, memcg: str | None = None) -> Rule | None:
        for r in self.rules:
            if r.matches(task, memcg):
                return r
        return None

    def intent_of(self, task: Task, memcg: str | None = None) -> str | None:
        r = self.rule_of(task, memcg)
        return r.intent if r else None

    def drift(self, tasks: Iterable[Task]) -> dict[str, int]:
        """Per rule with an ``oom_score_adj``: how many of its processes have another adj now."""
        out = {r.name: 0 for r in self.rules if r.oom_score_adj is not None}
        for t in tasks:
            r = self.rule_of(t)
            if r is not None and r.oom_score_adj is not None and t.oom_score_adj != r.oom_score_adj:
                out[r.name] += 1
        return out


Fail = Callable[[str, "int | None"], Exception]


def _line(text: str, index: int, key: str) -> int | None:
    seen = -1
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("[[rule]]"):
            seen += 1
        elif seen == index and re.match(rf"{re.escape(key)}\s*=", s):
            return n
    return None


def parse_policy(text: str, fail: Fail) -> Policy:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        raise fail(f"not valid TOML: {e}", int(m[1]) if m else None) from None
    rules = []
    for i, row in enumerate(doc.get("rule", [])):
        for k in row:
            if k not in ("name", "comm", "cgroup", "intent", "oom_score_adj"):
                raise fail(f"unknown key {k!r} in [[rule]]", _line(text, i, k))
        name = str(row.get("name") or f"rule{i + 1}")
        intent = row.get("intent")
        if intent not in INTENTS:
            raise fail(f"rule {name}: intent {intent!r} is not one of {', '.join(INTENTS)}", _line(text, i, "intent"))
        try:
            comm = re.compile(row["comm"]) if "comm" in row else None
        except re.error as e:
            raise fail(f"rule {name}: comm is not a regular expression: {e}", _line(text, i, "comm")) from None
        adj = row.get("oom_score_adj")
        if adj is not None and (not isinstance(adj, int) or not -1000 <= adj <= 1000):
            raise fail(f"rule {name}: oom_score_adj must be -1000..1000", _line(text, i, "oom_score_adj"))
        rules.append(Rule(name, comm, row.get("cgroup"), intent, adj))
    return Policy(tuple(rules))


def load_policy(path: str, fail: Fail) -> Policy:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        raise fail(f"cannot read the policy file: {e.strerror}", None) from None
    return parse_policy(text, fail)
