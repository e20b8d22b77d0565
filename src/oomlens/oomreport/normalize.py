"""Strip log-plumbing prefixes so that only the kernel's printk text remains.

One raw line in, zero or more :class:`LogLine` out (rsyslog ``#012`` records split into several).
Handled, in any nesting order (the prefixes are peeled one by one):

* wrappers: markdown / mail quoting (``> ``, ``> > ``), a leading ``| ``, code indentation,
  code fences (dropped), ANSI colours, ``\\r``;
* BSD syslog ``Mon DD HH:MM:SS[.frac] [host] tag[pid]: `` with month names of any locale,
  RFC 5424 ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD``, RFC 3339 / journal ``short-iso`` /
  ``short-iso-precise``, journal ``short-full`` (``Fri 2024-05-17 19:54:29 CEST``), ``short-unix``,
  ``short-monotonic``;
* ``dmesg`` ``[  123.456789]``, ``dmesg -T`` ``[Thu Mar 27 10:11:12 2013]``, ``dmesg -x``
  ``kern  :warn  : ``, ``--time-format=iso``, printk caller ids ``[T123]``, printk levels ``<4>``,
  ``/dev/kmsg`` records ``4,1234,5678,-;text`` (their `` KEY=value`` dictionary lines dropped),
  time-only prefixes ``10:11:12`` / ``[10:11:12.123]``;
* journal headers such as ``-- Boot 3f2a... --`` and ``-- Logs begin at ...`` (dropped).

Trust: a syslog/journal line counts as kernel output only when its tag is exactly ``kernel``
with no ``[pid]`` (``logger --tag=kernel`` produces ``kernel[PID]:``); ``dmesg -x`` lines only
when the facility is ``kern``. Lines without any syslog header are trusted (bare ``dmesg`` output).
A header-less line that follows a line with a header is a *continuation*: journald indents the
further lines of a multi-line record, and mail clients hard-wrap long records. It inherits the
host, timestamp and trust of the record it continues; joining wrapped text is left to the caller,
which knows whether the previous record was complete.

Pure: standard library only.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["LogLine", "Normalizer", "normalize_line", "clock_seconds"]


class LogLine(NamedTuple):
    """One kernel record after prefix stripping.

    ``text``: the message (leading/trailing blanks removed); ``host``: syslog/journal host or None;
    ``trusted``: see module docstring; ``timestamp``: wall-clock text as printed (or None);
    ``uptime``: seconds from a ``[  123.456]`` / kmsg stamp; ``prefix``: the outermost record
    format (``"syslog"``, ``"rfc5424"``, ``"iso"``, ``"journal-full"``, ``"journal-unix"``,
    ``"dmesg"``, ``"dmesg-T"``, ``"dmesg-x"``, ``"kmsg"``, ``"time"``, ``"bare"``);
    ``wrappers``: ``"+"``-joined wrappers seen (``"markdown"``, ``"pipe"``, ``"indent"``,
    ``"rsyslog-#012"``, ``"printk-level"``, ``"caller-id"``); ``continuation``: header-less line
    after a line that had a header (see module docstring).
    """

    text: str
    host: str | None = None
    trusted: bool = True
    timestamp: str | None = None
    uptime: float | None = None
    prefix: str = "bare"
    wrappers: str = ""
    continuation: bool = False


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_QUOTE = re.compile(r"[ \t]{0,3}>[ \t]?")
_PIPE = re.compile(r"[ \t]*\|[ \t]?")
_MONTH = r"(?:[^\W\d_]{2,10}\.?|\d{1,2}月)"
_TIME = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
_TAG = r"(?:(?P<host>[^\s\[\]:]+) )?(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?"
_SYSLOG = re.compile(
    rf"(?P<ts>{_MONTH} {{1,2}}\d{{1,2}},? (?:\d{{4}} )?{_TIME}(?: \d{{4}})?) +{_TAG}")
_SYSLOG_NOTAG = re.compile(rf"(?P<ts>{_MONTH} {{1,2}}\d{{1,2}},? (?:\d{{4}} )?{_TIME}(?: \d{{4}})?) +")
_ISO_TS = (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
           r"(?: ?(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5}))?")
_ISO = re.compile(rf"(?P<ts>{_ISO_TS}) +")
_JFULL = re.compile(
    rf"(?P<ts>[^\W\d_]{{2,4}}\.? \d{{4}}-\d{{2}}-\d{{2}} {_TIME}(?: (?:[A-Z]{{2,5}}|[+-]\d{{4}}))?) +")
_UNIX = re.compile(r"(?P<ts>\d{9,11}\.\d{3,9}) +")
_HOSTTAG = re.compile(_TAG)
_HOST_AND_TAG = re.compile(r"(?P<host>[^\s\[\]:]+) (?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?")
_KERNELTAG = re.compile(r"(?:(?P<host>[^\s\[\]:]+) )?(?P<tag>kernel)(?:\[(?P<pid>\d+)\])?: ?")
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) \S+ (?:-|(?:\[[^\]]*\])+) ?")
_LEVEL = re.compile(r"<(\d{1,3})>")
_KMSG = re.compile(r"(\d{1,3}),(\d+),(\d+),[^;]{0,8};")
_MONO = re.compile(r"\[ *\+?(\d+\.\d+)(?: *<[ \d.]*>)?\] ?")
_DMESG_T = re.compile(r"\[(?P<ts>[^\]\d\s][^\]]*?" + _TIME + r"[^\]]*)\] ?")
_TIME_ONLY = re.compile(r"\[?(?P<ts>" + _TIME + r")\]? +")
_CALLER = re.compile(r"\[ *[TC]\d+\] ?")
_DMESG_X = re.compile(
    r"(?P<fac>kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d) *:"
    r"(?:emerg|alert|crit|err|warn|notice|info|debug) *: ?")
_KMSG_DICT = re.compile(r"[A-Z_]+=")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2}(?:[.,]\d+)?)")


def clock_seconds(timestamp: str | None) -> float | None:
    """Seconds since midnight of the first ``HH:MM:SS[.frac]`` in ``timestamp`` (None if none)."""
    if not timestamp:
        return None
    m = _CLOCK.search(timestamp)
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3).replace(",", "."))


class Normalizer:
    """Stateful prefix stripper: it remembers the previous record's header so that header-less
    continuation lines can inherit host, time and trust. One instance per input stream."""

    __slots__ = ("_prev",)

    def __init__(self) -> None:
        self._prev: LogLine | None = None

    def reset(self) -> None:
        """Forget the previous record (call when lines were skipped in between)."""
        self._prev = None

    def normalize(self, raw: str) -> list[LogLine]:
        """Turn one raw line into kernel records (usually one; none for blank/meta lines)."""
        lines = _normalize(raw, self._prev)
        if lines:
            self._prev = lines[-1]
        return lines


def normalize_line(raw: str) -> list[LogLine]:
    """Stateless :meth:`Normalizer.normalize` (no continuation handling)."""
    return _normalize(raw, None)


# Fast path for the two commonest shapes: "Mon DD HH:MM:SS host kernel: [ 12.3] msg" and
# "[ 12.345678] msg". Anything else (or anything odd inside the message) takes the general path.
_FAST = re.compile(
    r"(?:(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?) (?P<host>[^\s\[\]:]+) kernel: )?"
    r"\[ *(?P<up>\d+\.\d+)\] (?P<msg>\S.*)")


def _normalize(raw: str, prev: LogLine | None) -> list[LogLine]:
    fast = _normalize_fast(raw)
    return fast if fast is not None else _normalize_general(raw, prev)


def _normalize_fast(raw: str) -> list[LogLine] | None:
    """The two commonest shapes in one regex; None when the general path is needed. Must give
    exactly what :func:`_normalize_general` gives (a property test checks it)."""
    m = _FAST.fullmatch(raw.rstrip("\r\n"))
    if m is None:
        return None
    text = m.group("msg").strip()
    if ("#01" in text or "\x1b" in text or "\r" in text or text[:1] in "<["
            or ("kernel" in text[:80] and _KERNELTAG.match(text))):
        return None
    ts = m.group("ts")
    return [LogLine(text, m.group("host"), True, ts, float(m.group("up")),
                    "syslog" if ts else "dmesg", "", False)]


def _normalize_general(raw: str, prev: LogLine | None) -> list[LogLine]:
    s = raw.rstrip("\r\n")
    if "\x1b" in s:
        s = _ANSI.sub("", s)
    if "\r" in s:
        s = s.replace("\r", "")
    wrappers: list[str] = []
    # ---- outer wrappers: quoting, pipes, indentation -------------------------------------
    while s:
        c = s[0]
        if c == ">" or (c in " \t" and s.lstrip(" \t")[:1] == ">"):
            m = _QUOTE.match(s)
            if m:
                s = s[m.end():]
                wrappers.append("markdown")
                continue
        if c == "|" or (c in " \t" and s.lstrip(" \t")[:1] == "|"):
            m = _PIPE.match(s)
            if m:
                s = s[m.end():]
                wrappers.append("pipe")
                continue
        break
    body = s.lstrip(" \t")
    indent_width = len(s) - len(body)
    indented = indent_width != 0
    if not body or body.startswith("```") or body.startswith("~~~"):
        return []
    if body.startswith("-- ") and body.endswith(" --"):
        return []  # journalctl "-- Boot ... --", "-- Logs begin at ... --", "-- No entries --"
    host: str | None = None
    trusted = True
    timestamp: str | None = None
    uptime: float | None = None
    prefix = "bare"
    s = body
    # ---- record headers, peeled repeatedly ---------------------------------------------------
    for _ in range(6):
        c = s[:1]
        if not c:
            break
        if c == "<":
            m = _RFC5424.match(s)
            if m:
                prefix = "rfc5424"
                timestamp = m.group("ts")
                host = _nil(m.group("host"))
                app, procid = m.group("app"), m.group("procid")
                trusted = trusted and app == "kernel" and procid == "-"
                s = s[m.end():]
                continue
            m = _LEVEL.match(s)
            if m:
                wrappers.append("printk-level")
                if int(m.group(1)) >> 3 != 0:  # <PRI> with a facility other than kern
                    trusted = False
                s = s[m.end():]
                continue
            break
        if c == "[":
            m = _MONO.match(s)
            if m:
                uptime = float(m.group(1))
                prefix = prefix if prefix != "bare" else "dmesg"
                s = s[m.end():]
                m = _KERNELTAG.match(s)
                if m:
                    host = m.group("host") or host
                    trusted = trusted and m.group("pid") is None
                    s = s[m.end():]
                continue
            m = _CALLER.match(s)
            if m:
                wrappers.append("caller-id")
                s = s[m.end():]
                continue
            m = _DMESG_T.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = prefix if prefix != "bare" else "dmesg-T"
                s = s[m.end():]
                continue
            m = _TIME_ONLY.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = prefix if prefix != "bare" else "time"
                s = s[m.end():]
                continue
            break
        if c.isdigit():
            m = _KMSG.match(s)
            if m:
                prefix = "kmsg"
                uptime = int(m.group(3)) / 1e6
                if int(m.group(1)) >> 3 != 0:  # facility != kern: written by userspace
                    trusted = False
                s = s[m.end():]
                continue
            m = _ISO.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = "iso" if prefix == "bare" else prefix
                s = s[m.end():]
                s, host, trusted = _host_tag(s, host, trusted, strict=True)
                continue
            m = _UNIX.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = "journal-unix" if prefix == "bare" else prefix
                s = s[m.end():]
                s, host, trusted = _host_tag(s, host, trusted, strict=True)
                continue
            m = _SYSLOG.match(s)  # "3月 27 10:11:12 host kernel: "
            if m:
                timestamp, host, trusted, s = _syslog(m, s, trusted)
                prefix = "syslog" if prefix == "bare" else prefix
                continue
            m = _TIME_ONLY.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = "time" if prefix == "bare" else prefix
                s = s[m.end():]
                m = _KERNELTAG.match(s)
                if m:
                    host = m.group("host") or host
                    trusted = trusted and m.group("pid") is None
                    s = s[m.end():]
                continue
            break
        if c.isalpha():
            m = _JFULL.match(s)
            if m:
                timestamp = m.group("ts")
                prefix = "journal-full" if prefix == "bare" else prefix
                s = s[m.end():]
                s, host, trusted = _host_tag(s, host, trusted, strict=False)
                continue
            m = _SYSLOG.match(s)
            if m:
                timestamp, host, trusted, s = _syslog(m, s, trusted)
                prefix = "syslog" if prefix == "bare" else prefix
                continue
            m = _SYSLOG_NOTAG.match(s)
            if m and prefix == "bare":
                # a syslog stamp without a "host tag:" we understand: not known kernel output
                timestamp = m.group("ts")
                prefix = "syslog"
                trusted = False
                s = s[m.end():]
                continue
            m = _DMESG_X.match(s)
            if m:
                prefix = "dmesg-x" if prefix == "bare" else prefix
                trusted = trusted and m.group("fac") == "kern"
                s = s[m.end():]
                continue
            break
        break
    text = s.strip()
    continuation = False
    if prefix == "bare" and prev is not None:
        if prev.prefix == "kmsg" and indented and _KMSG_DICT.match(text):
            return []  # /dev/kmsg dictionary line (" SUBSYSTEM=...")
        if prev.prefix != "bare":
            continuation = True
            host, trusted, timestamp, uptime = prev.host, prev.trusted, prev.timestamp, prev.uptime
            prefix = prev.prefix
    if indent_width >= 2 and not continuation:
        # one leading blank is the kernel's own (" active_file:..", " dump_stack+0x..")
        wrappers.append("indent")
    if "#01" in text or (prefix == "kmsg" and "\\x" in text):
        return _split_rsyslog(text, host, trusted, timestamp, uptime, prefix, wrappers, continuation)
    return [LogLine(text, host, trusted, timestamp, uptime, prefix, "+".join(wrappers), continuation)]


def _nil(value: str | None) -> str | None:
    return None if value in (None, "-") else value


def _syslog(m: re.Match[str], s: str, trusted: bool) -> tuple[str, str | None, bool, str]:
    tag, pid = m.group("tag"), m.group("pid")
    trusted = trusted and tag == "kernel" and pid is None
    return m.group("ts"), m.group("host"), trusted, s[m.end():]


def _host_tag(s: str, host: str | None, trusted: bool, *, strict: bool
              ) -> tuple[str, str | None, bool]:
    """After a timestamp: consume ``[host] tag[pid]: `` when present.

    ``strict`` (ISO / unix stamps, which ``dmesg --time-format`` also prints, with no host or
    tag after them): a lone ``kernel:`` tag is recognised, any other tag only together with a host
    (``host tag: ``), so that kernel text such as ``oom_reaper: reaped ...`` or ``Mem-Info:`` is
    never taken for a syslog tag."""
    m = _KERNELTAG.match(s)
    if m is None:
        m = (_HOST_AND_TAG if strict else _HOSTTAG).match(s)
    if m is None:
        return s, host, trusted
    trusted = trusted and m.group("tag") == "kernel" and m.group("pid") is None
    return s[m.end():], m.group("host") or host, trusted


def _split_rsyslog(text: str, host: str | None, trusted: bool, timestamp: str | None,
                   uptime: float | None, prefix: str, wrappers: list[str],
                   continuation: bool) -> list[LogLine]:
    """rsyslog escapes control characters as ``#ooo`` octal (``#012`` newline, ``#011`` tab);
    ``/dev/kmsg`` as ``\\xNN`` (``\\x0a`` newline, ``\\x09`` tab)."""
    if prefix == "kmsg":
        text = text.replace("\\x09", " ").replace("\\x0a", "#012")
        tag = "kmsg-\\x0a"
    else:
        tag = "rsyslog-#012"
    text = text.replace("#011", " ")
    parts = [p.strip() for p in text.split("#012")]
    w = "+".join(wrappers + [tag]) if len(parts) > 1 else "+".join(wrappers)
    return [LogLine(p, host, trusted, timestamp, uptime, prefix, w, continuation and i == 0)
            for i, p in enumerate(parts) if p]
