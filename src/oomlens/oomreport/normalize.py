"""Strip log-plumbing prefixes so that only the kernel's printk text remains.

One raw line in, zero or more :class:`LogLine` out (rsyslog ``#012`` records split into several).
Handled, in any nesting order (the prefixes are peeled one by one):

* wrappers: markdown / mail quoting (``> ``, ``> > ``; ``: `` before a record header), a leading ``| ``, code
  indentation,
  code fences (dropped), ANSI colours, ``\\r``;
* BSD syslog ``Mon DD HH:MM:SS[.frac] [host] tag[pid]: `` with month names of any locale,
  RFC 5424 ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD``, RFC 3339 / journal ``short-iso`` /
  ``short-iso-precise``, journal ``short-full`` (``Fri 2024-05-17 19:54:29 CEST``), ``short-unix``,
  ``short-monotonic``;
* ``dmesg`` ``[  123.456789]``, ``dmesg -T`` ``[Thu Mar 27 10:11:12 2013]``, ``dmesg -x``
  ``kern  :warn  : ``, ``--time-format=iso``, printk caller ids ``[T123]``, printk levels ``<4>``,
  ``/dev/kmsg`` records ``4,1234,5678,-;text`` (their `` KEY=value`` dictionary lines dropped),
  time-only prefixes ``10:11:12`` / ``[10:11:12.123]``;
* journal headers such as ``-- Boot 3f2a... --`` and ``-- Logs begin at ...`` (dropped);
* rsyslog output templates ``severity|program[pid]|`` (``warning|kernel[-]|[ 12.3] ...``);
* structured logs: a record's text in a JSON string, one object per line (``journalctl -o json``,
  Docker/Kubernetes ``{"log":"...\\n",..}``) or pretty-printed (``journalctl -o json-pretty``,
  Google Cloud Logging's ``"textPayload": "..."``), its escapes decoded (see :func:`_structured`);
  the JSON around the records is dropped (see :attr:`Normalizer.framing`).

Trust: a syslog/journal line counts as kernel output only when its tag is exactly ``kernel``
with no ``[pid]`` (``logger --tag=kernel`` produces ``kernel[PID]:``; an rsyslog template's
``kernel[-]`` has none); ``dmesg -x`` lines only when the facility is ``kern``; a journal JSON
record only when its ``_TRANSPORT`` and ``SYSLOG_IDENTIFIER``, where present, are ``kernel``.
Lines without any syslog header are trusted (bare ``dmesg`` output). A header-less line that
follows a line with a header is a *continuation*: journald indents the further lines of a
multi-line record, and mail clients hard-wrap long records. It inherits the host, timestamp and
trust of the record it continues; joining wrapped text is left to the caller, which knows
whether the previous record was complete.

Pure: standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["FRAMING", "LogLine", "Normalizer", "normalize_line", "clock_seconds", "is_json_framing", "rewrapped_record",
           "split_at_stamp"]


class LogLine(NamedTuple):
    """One kernel record after prefix stripping.

    ``text``: the message (leading/trailing blanks removed); ``host``: syslog/journal host or None;
    ``trusted``: see module docstring; ``timestamp``: wall-clock text as printed (or None);
    ``uptime``: seconds from a ``[  123.456]`` / kmsg stamp; ``prefix``: the outermost record
    format (``"syslog"``, ``"rfc5424"``, ``"iso"``, ``"journal-full"``, ``"journal-unix"``,
    ``"dmesg"``, ``"dmesg-T"``, ``"dmesg-x"``, ``"kmsg"``, ``"time"``, ``"rsyslog-template"``, ``"logread"``,
    ``"json"`` (a structured log's record whose text has no header of its own), ``"bare"``);
    ``wrappers``: ``"+"``-joined wrappers seen (``"markdown"``, ``"colon-quote"``, ``"pipe"``, ``"indent"``,
    ``"rsyslog-#012"``, ``"printk-level"``, ``"caller-id"``, ``"oom-serial"``, ``"glued-syslog"``,
    ``"glued-trace"``, ``"json"``; ``events`` adds the repairs it made);
    ``continuation``: header-less line after a line that had a header (see module docstring);
    ``serial``: the ``N`` of an ``OOM[N]: `` message prefix (a kernel patched to defer
    ``dump_tasks()`` numbers each OOM invocation's lines so), None without one.
    """

    text: str
    host: str | None = None
    trusted: bool = True
    timestamp: str | None = None
    uptime: float | None = None
    prefix: str = "bare"
    wrappers: str = ""
    continuation: bool = False
    serial: int | None = None


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_QUOTE = re.compile(r"[ \t]*>[ \t]?")   # a kernel line never starts with ">": any indentation before it is a quote
_PIPE = re.compile(r"[ \t]*\|[ \t]?")
_COLON_QUOTED = re.compile(r": (?=\[ *\d{1,15}\.\d{1,15}\]|\w{3} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT\d\d:)")
"""": " quoting before a record header (a ``[ seconds]`` stamp, a syslog or RFC 3339 time)."""
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
_KMSG = re.compile(r"(\d{1,3}),(\d{1,20}),(\d{1,20}),[^;]{0,8};")
_MONO = re.compile(r"\[ *\+?(\d{1,15}\.\d{1,15})(?: *<[ \d.]{0,40}>)?\] ?")
_DMESG_T = re.compile(r"\[(?P<ts>[^\]\d\s][^\]]*?" + _TIME + r"[^\]]*)\] ?")
_TIME_ONLY = re.compile(r"\[?(?P<ts>" + _TIME + r")\]? +")
_CALLER = re.compile(r"\[ *[TC]\d+\] ?")
_DMESG_X = re.compile(
    r"(?P<fac>kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d) *:"
    r"(?:emerg|alert|crit|err|warn|notice|info|debug) *: ?")
_KMSG_DICT = re.compile(r"[A-Z_]+=")
_NOT_A_STAMP = re.compile(r"[ \d]*|<[0-9a-fA-F]+>|\s*pid\s*")
_ALPHA_HEADER_HINT = re.compile(r"\S{1,11}(?: {1,2}| \d{4}-)\d|[a-z]{3,8} *:[a-z]{3,6} *:")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2}(?:[.,]\d+)?)")


MAX_WRAPPERS = 8
"""Quote / pipe wrappers peeled per line at most (real pastes nest two or three)."""


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
    continuation lines can inherit host, time and trust. One instance per input stream.

    ``lead``: after :meth:`normalize`, the blanks (after quoting wrappers) before the text of a
    line that had no record header of its own, else 0. Text is stripped, so this is what says
    whether a hard-wrapped line went on after a blank (see ``events._decode_qp``).
    ``framing``: after :meth:`normalize`, whether the line was the JSON around the records of a
    structured log (brackets, other keys; see :data:`FRAMING`): no record, and no sign either
    that the log went on to something else."""

    __slots__ = ("_prev", "lead", "framing")

    def __init__(self) -> None:
        self._prev: LogLine | None = None
        self.lead = 0
        self.framing = False

    def reset(self) -> None:
        """Forget the previous record (call when lines were skipped in between)."""
        self._prev = None

    def normalize(self, raw: str) -> list[LogLine]:
        """Turn one raw line into kernel records (usually one; none for blank/meta lines)."""
        lead: list[int] = []
        lines = _normalize(raw, self._prev, lead)
        self.lead = lead[0] if lead else 0
        self.framing = lines is FRAMING
        if lines:
            self._prev = lines[-1]
        return lines


def normalize_line(raw: str) -> list[LogLine]:
    """Stateless :meth:`Normalizer.normalize` (no continuation handling)."""
    return _normalize(raw, None)


_INNER_STAMP = re.compile(r"\[ *\d{1,15}\.\d{1,15}\] ")


def is_json_framing(raw: str) -> bool:
    """Whether a line, read without what came before it, can be the JSON around a structured log's records."""
    body = raw.strip()
    return bool(body) and body[0] in '"{}[],' and _JSON_FRAMING.fullmatch(body) is not None


def split_at_stamp(text: str) -> tuple[str, LogLine] | None:
    """A ``[  123.456789]`` stamp inside a record's text, not at its start: ``(the text before it, the record
    from the stamp on)``, or None. Whether that record is kernel output (a serial console where userspace
    and the kernel wrote on one line) is for the caller to decide: here any line with such a stamp splits."""
    m = _INNER_STAMP.search(text, 1)
    if m is None:
        return None
    lines = normalize_line(text[m.start():])
    if len(lines) != 1 or lines[0].uptime is None:
        return None
    return text[:m.start()].rstrip(), lines[0]


# Fast path for the two commonest shapes: "Mon DD HH:MM:SS host kernel: [ 12.3] msg" and
# "[ 12.345678] msg". Anything else (or anything odd inside the message) takes the general path.
_FAST = re.compile(
    r"(?:(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?) (?P<host>[^\s\[\]:]+) kernel: )?"
    r"\[ *(?P<up>\d{1,15}\.\d{1,15})\] +(?P<msg>\S.*)")


def _normalize(raw: str, prev: LogLine | None, lead: list[int] | None = None) -> list[LogLine]:
    fast = _normalize_fast(raw)
    lines = fast if fast is not None else _normalize_general(raw, prev, lead)
    if lines:
        t = lines[-1].text
        if "ill process" in t or t.endswith("]") or ("/0x" in t and _GLUED_AFTER_FRAME.match(t)):
            lines = _unglue(lines)
        if " kernel:" in lines[-1].text:
            lines = _split_rewrapped(lines)
    return lines


# A syslog log re-wrapped by a mail client (a reply's quote, ~78 columns): a record starts in the middle of a line,
# its header after the previous record's last words, and its own words go on on the next line
# ("> (rpmbuild) score 3460 or a child Mar 17 01:33:12 t6360003 kernel: Killed" / "> process 27519 (sh)").
_INNER_SYSLOG = re.compile(
    r" (?P<ts>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}\d{1,2} \d\d:\d\d:\d\d(?:\.\d{1,9})?) "
    r"(?P<host>[^\s\[\]:]+) kernel:(?: +|$)")


def _split_rewrapped(lines: list[LogLine]) -> list[LogLine]:
    """A syslog line (or a line continuing one) that holds the header of a record of its host's kernel after some
    words: the record is split off there (its text may be empty: its words are on the next line, which continues
    it). Only the host's own ``kernel:`` header (no ``[pid]``) splits, or any host's on a line that names no host
    (read alone, as the scanner does, a line continuing a record has none): a kernel record never prints one."""
    out: list[LogLine] = []
    for ll in lines:
        while True:
            m = _INNER_SYSLOG.search(ll.text) if " kernel:" in ll.text else None
            if m is None or (ll.host is not None and m.group("host") != ll.host):
                out.append(ll)
                break
            if m.start():
                out.append(ll._replace(text=ll.text[:m.start()]))
            w = ll.wrappers.replace("+rewrapped-syslog", "").replace("rewrapped-syslog", "")
            rec = rewrapped_record(m.group("ts"), m.group("host"), ll.text[m.end():],
                                   w + "+rewrapped-syslog" if w else "rewrapped-syslog", ll.serial)
            ll = rec if ll.trusted else rec._replace(trusted=False)   # a program's line quoting one is the program's
    return out


def rewrapped_record(timestamp: str, host: str, text: str, wrappers: str, serial: int | None = None) -> LogLine:
    """The record a syslog header of ``host``'s kernel starts, with ``text`` after it (a ``[ seconds]`` stamp in
    it peeled), as split off a re-wrapped line."""
    rest = text.lstrip()
    uptime = None
    m = _MONO.match(rest) if rest.startswith("[") else None
    if m is not None:
        uptime = float(m.group(1))
        rest = rest[m.end():]
    return LogLine(rest.strip(), host, True, timestamp, uptime, "syslog", wrappers, False, serial)


# 2.6.2x printed some OOM messages without a newline, so the next one joined it on the same line:
# "Killed process 19271 (trashapplet)Out of memory: kill process 12475 (qemu) score 7899 or a childKilled ..."
_GLUED = re.compile(r"(?:(?<=\))|(?<=child))(?=Out of [Mm]emory: [Kk]ill process |Killed process )")
# tmux / screen copy mode writes its position at the end of the first line copied: "...oom_score_adj=0    [7/972]";
# a redraw over an earlier, longer position can leave its start before it: "[2[2/9152]"
_COPY_MODE = re.compile(r"\s{2,}(?:\[\d{0,9}){0,3}\[\d{1,9}/\d{1,9}\]$")
# A selection line whose newline was lost, the next syslog line's start glued to its wording:
# "... score 673 or sacrifice childSep 12 10:11:12 host kernel: ..." (or only "childSep", the rest cut)
_SELECT_WORDING_ENDS = (" or sacrifice child", " or a child", " and children")
_GLUED_SYSLOG = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?: {1,2}\d{1,2} \d\d:\d\d:\d\d(?:\.\d{1,9})? .*)?")


# A call-trace frame whose newline was lost, an OOM line that starts with fixed words glued after it: 2.6.x printed
# a frame in pieces, and another CPU's report could start before its newline (" [__alloc_pages+623/795]
# __alloc_pages+0x26f/0x31boom-killer: gfp_mask=0xd0, order=1"). The frame must be whole (its offset/size in hex;
# a module name after it) and the OOM line one that starts with no task name ("<comm> invoked oom-killer:" glued
# to a frame would leave where the name starts unknown).
_GLUED_AFTER_FRAME = re.compile(
    r"(?:\[<?[0-9a-f]{8,16}>?\] |\[[\w.]+\+\d+/\d+\] )?(?:\? )?[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[\w+\])?"
    r"(?=oom-killer: gfp_mask=|Out of [Mm]emory: |Memory cgroup out of memory: |oom-kill:constraint=|Mem-[Ii]nfo:$"
    r"|Task in /|oom_reaper: |Killed process \d)")


def _glued_syslog_at(text: str) -> int:
    """Where a syslog line's start glued to the end of a selection line's wording begins (-1: none)."""
    for w in _SELECT_WORDING_ENDS:
        i = text.rfind(w)
        if i >= 0:
            j = i + len(w)
            return j if j < len(text) and _GLUED_SYSLOG.fullmatch(text, j) else -1
    return -1


def _unglue(lines: list[LogLine]) -> list[LogLine]:
    """Split OOM messages glued on one line (and a syslog line glued to a selection line), and drop a
    terminal's copy-mode position from a line's end."""
    out: list[LogLine] = []
    for ll in lines:
        text = ll.text
        if text.endswith("]"):
            m = _COPY_MODE.search(text)
            if m is not None:
                text = text[:m.start()]
        glued: list[LogLine] = []
        m = _GLUED_AFTER_FRAME.match(text) if "/0x" in text else None
        first = len(out)
        if m is not None:
            # the frame stays a line of its own; the OOM line after it is read on (it may be glued further)
            out.append(ll._replace(text=m.group()))
            text = text[m.end():]
            ll = ll._replace(text=text)
            first += 1
        if "ill process" in text:
            j = _glued_syslog_at(text)
            if j >= 0:
                # the glued part is a record of its own when its header is whole; a month alone is dropped
                glued = [g for g in _normalize_general(text[j:], None) if g.prefix != "bare" and g.text]
                text = text[:j]
                ll = ll._replace(text=text, wrappers=ll.wrappers + "+glued-syslog" if ll.wrappers else "glued-syslog")
            parts = _GLUED.split(text)
        else:
            parts = [text]
        out.extend(ll._replace(text=t.strip()) if t != ll.text else ll for t in parts if t.strip())
        if m is not None:
            w = out[first].wrappers
            out[first] = out[first]._replace(wrappers=w + "+glued-trace" if w else "glued-trace")
        out.extend(glued)
    return out


def _normalize_fast(raw: str) -> list[LogLine] | None:
    """The two commonest shapes in one regex; None when the general path is needed. Must give
    exactly what :func:`_normalize_general` gives (a property test checks it)."""
    m = _FAST.fullmatch(raw.rstrip("\r\n"))
    if m is None:
        return None
    text = m.group("msg").strip()
    if "#01" in text or "\x1b" in text or "\r" in text:
        return None
    c = text[:1]
    if c == "[":   # a second stamp / caller id would be peeled; rows and frames would not
        j = text.find("]", 1, 48)
        if j > 0 and not _NOT_A_STAMP.fullmatch(text, 1, j):
            return None
    elif c == "<" and (_LEVEL.match(text) or _RFC5424.match(text)):
        return None
    elif c == "O" and text.startswith("OOM["):
        return None   # an OOM[N]: serial prefix is peeled
    if "kernel" in text[:80] and _KERNELTAG.match(text):
        return None
    ts = m.group("ts")
    return [LogLine(text, m.group("host"), True, ts, float(m.group("up")),
                    "syslog" if ts else "dmesg", "", False)]


_OOM_SERIAL = re.compile(r"OOM\[(\d{1,10})\]: ?")


def _normalize_general(raw: str, prev: LogLine | None, lead: list[int] | None = None) -> list[LogLine]:
    s = raw.rstrip("\r\n")
    if "\x1b" in s:
        s = _ANSI.sub("", s)
    if "\r" in s:
        s = s.replace("\r", "")
    wrappers: list[str] = []
    # ---- outer wrappers: quoting, pipes, indentation (bounded: each peel copies the line) --
    while s and len(wrappers) < MAX_WRAPPERS:
        c = s[0]
        if c == ">" or (c in " \t" and s.lstrip(" \t")[:1] == ">"):
            m = _QUOTE.match(s)
            if m:
                s = s[m.end():]
                wrappers.append("markdown")
                continue
        if c == ":" and s[1:2] == " ":
            # ": " quoting (some mail clients, and reply styles that set a quoted log apart), peeled only when a
            # record header follows: a record's own text may start with ": "
            m = _COLON_QUOTED.match(s)
            if m:
                s = s[m.end():]
                wrappers.append("colon-quote")
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
    c = body[0]
    if c == '"' or c == "{" or c == "}" or c == "]" or (c == "[" and len(body) <= 2):
        structured = _structured(body, prev, wrappers)
        if structured is not None:
            return structured
    if body.startswith("-- ") and body.endswith(" --"):
        return []  # journalctl "-- Boot ... --", "-- Logs begin at ... --", "-- No entries --"
    h = _Header(wrappers)
    s = body
    peelers: tuple[tuple[re.Pattern[str], _PeelFn], ...]
    for _ in range(6):   # record headers, peeled repeatedly ("<4>[ 1.2] ...", "> Mar ..")
        c = s[:1]
        if c == "[":
            j = s.find("]", 1, 48)
            # table rows "[  123]", "[ pid ]" and frames "[<ffff..>]" carry no header
            peelers = _PEELERS["["] if j > 0 and not _NOT_A_STAMP.fullmatch(s, 1, j) else ()
        elif c == "k" and s.startswith("kernel: "):
            # a bare syslog tag, its date cut off by the paste ("kernel: Out of memory: ...")
            peelers = ((_BARE_KERNEL_TAG, _peel_bare_kernel_tag),)
        elif c.isalpha():
            # every alphabetic header has a digit early ("Mar 27", "Fri 2024-") or is dmesg -x, or it is an
            # rsyslog "severity|program[pid]|" template ("warning|kernel[-]|...")
            peelers = (_ALPHA_PEELERS if _ALPHA_HEADER_HINT.match(s)
                       else _TEMPLATE_PEELERS if s.find("|", 3, 8) > 0
                       else _OTHER_ALPHA_PEELERS if s.find(":", 3, 160) > 0 else ())
        else:
            peelers = _PEELERS.get(c) or (_DIGIT_PEELERS if c.isdigit() else ())
        for rx, peel in peelers:
            m = rx.match(s)
            if m is not None and (rest := peel(h, m, s[m.end():])) is not None:
                s = rest
                break
        else:
            break
    host, trusted, timestamp, uptime, prefix = h.host, h.trusted, h.timestamp, h.uptime, h.prefix
    if lead is not None and prefix == "bare":
        lead.append(indent_width)
    text = s.strip()
    serial: int | None = None
    if text.startswith("OOM["):
        # "OOM[3]: " numbers the lines of one OOM invocation (a kernel patched to defer dump_tasks())
        ms = _OOM_SERIAL.match(text)
        if ms is not None:
            serial = int(ms.group(1))
            text = text[ms.end():]
            wrappers.append("oom-serial")
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
    return [LogLine(text, host, trusted, timestamp, uptime, prefix, "+".join(wrappers), continuation, serial)]


# ---- structured logs: a record's text in a JSON string. Google Cloud Logging exports ('"textPayload": "..."'),
# journalctl -o json / json-pretty ('"MESSAGE" : "..."', kernel records with "_TRANSPORT": "kernel"), Docker and
# Kubernetes json-file logs ('{"log":"...\\n","stream":..}'), and log shippers ("message").

FRAMING: list[LogLine] = []
"""What :func:`_normalize` returns for a line of the JSON around a structured log's records (never changed)."""
_JSON_TEXT_KEYS = ("textPayload", "MESSAGE", "log", "message")
_JSON_KEY_LINE = re.compile(
    r'"(?P<key>textPayload|MESSAGE|log|message)" ?: ?(?P<val>"(?:[^"\\]|\\.)*")\s*,?')
_JSON_FRAMING = re.compile(r'[\[\]{},\s]+|"[^"\\]{1,100}" ?: ?(?:"(?:[^"\\]|\\.)*"|[-\w.]+|[\[{]|\[\]|\{\})\s*,?')
"""A line of a pretty-printed JSON document that holds no record text: brackets, a key with a scalar or an opening
bracket."""
_ESCAPED_ENDS = ("\\n", "\\r")
_ESCAPES = re.compile(r"\\(?:r\\n|[rnt\\])")


def _structured(body: str, prev: LogLine | None, wrappers: list[str]) -> list[LogLine] | None:
    """A line of a structured log: its records, :data:`FRAMING` for the JSON around them (once a record was read
    from the document), None when the line is not one.

    A record's text comes from its JSON string and is read as a line of its own (a ``[ seconds]`` stamp or a
    syslog header in it is peeled; the lines of a multi-line string are records of their own). Text escaped once
    more (Cloud Logging's serial-console entries, ``"is_text_escaped"``: ``"...\\\\r\\\\n"``) is recognised by
    the escaped line end it ends with: its ``\\r\\n``, ``\\n``, ``\\r``, ``\\t`` and ``\\\\`` are decoded. A one-line
    journal object gives its host (``_HOSTNAME``), the kernel's time stamp (``_SOURCE_MONOTONIC_TIMESTAMP``) when
    the text has none, and its trust (see the module docstring)."""
    meta: dict[str, object] = {}
    text: object = None
    m = _JSON_KEY_LINE.fullmatch(body)
    if m is not None:
        text = _json_string(m.group("val"))
    elif body[0] == "{":
        try:
            obj = json.loads(body[:-1] if body.endswith(",") else body)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            meta = obj
            text = next((obj[k] for k in _JSON_TEXT_KEYS if isinstance(obj.get(k), str)), None)
    if not isinstance(text, str):
        if prev is not None and "json" in prev.wrappers.split("+") and _JSON_FRAMING.fullmatch(body):
            return FRAMING
        return None
    trusted = all(meta.get(k, "kernel") == "kernel" for k in ("_TRANSPORT", "SYSLOG_IDENTIFIER"))
    host = meta.get("_HOSTNAME")
    mono = meta.get("_SOURCE_MONOTONIC_TIMESTAMP")
    uptime = int(mono) / 1e6 if isinstance(mono, str) and mono.isdigit() else None
    if text.endswith(_ESCAPED_ENDS):
        # the text was escaped once more ("is_text_escaped" serial-console output): "\r\n" ends its lines
        text = _ESCAPES.sub(lambda e: "\n" if e.group()[1] in "rn" else "\t" if e.group()[1] == "t" else "\\", text)
    w = "+".join(wrappers + ["json"])
    out: list[LogLine] = []
    for part in text.split("\n"):
        for ll in _normalize(part, None):
            if ll.prefix == "bare":
                ll = ll._replace(prefix="json", uptime=uptime)
            out.append(ll._replace(host=ll.host or (host if isinstance(host, str) else None),
                                   trusted=ll.trusted and trusted,
                                   wrappers=ll.wrappers + "+" + w if ll.wrappers else w))
    return out


def _json_string(literal: str) -> str | None:
    try:
        v = json.loads(literal)
    except (ValueError, RecursionError):
        return None
    return v if isinstance(v, str) else None


class _Header:
    """What the record headers of one line said (mutable while peeling)."""

    __slots__ = ("host", "trusted", "timestamp", "uptime", "prefix", "wrappers")

    def __init__(self, wrappers: list[str]) -> None:
        self.host: str | None = None
        self.trusted = True
        self.timestamp: str | None = None
        self.uptime: float | None = None
        self.prefix = "bare"
        self.wrappers = wrappers

    def stamp(self, m: re.Match[str], prefix: str) -> None:
        """A time stamp; the outermost record format names the line."""
        self.timestamp = m.group("ts")
        if self.prefix == "bare":
            self.prefix = prefix

    def tag(self, host: str | None, tag: str, pid: str | None) -> None:
        """A syslog/journal ``[host] tag[pid]:``: kernel output only for a bare ``kernel`` tag."""
        self.host = host or self.host
        self.trusted = self.trusted and tag == "kernel" and pid is None


_PeelFn = Callable[["_Header", "re.Match[str]", str], "str | None"]


def _kernel_tag_after(h: _Header, rest: str) -> str:
    """After a bare time stamp only a ``[host] kernel:`` tag is recognised (journal
    short-monotonic); anything else is kernel text."""
    m = _KERNELTAG.match(rest)
    if m is None:
        return rest
    h.tag(m.group("host"), "kernel", m.group("pid"))
    return rest[m.end():]


def _host_tag_after(h: _Header, rest: str, strict: bool) -> str:
    """After a date: ``[host] tag[pid]: `` when present. ``strict`` (ISO / unix stamps, which
    ``dmesg --time-format`` also prints with no host or tag): any tag other than ``kernel`` only
    together with a host, so that ``oom_reaper: ..`` or ``Mem-Info:`` is never taken for one."""
    m = _KERNELTAG.match(rest) or (_HOST_AND_TAG if strict else _HOSTTAG).match(rest)
    if m is None:
        return rest
    h.tag(m.group("host"), m.group("tag"), m.group("pid"))
    return rest[m.end():]


def _peel_rfc5424(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "rfc5424")
    h.tag(None if m.group("host") == "-" else m.group("host"), m.group("app"),
          None if m.group("procid") == "-" else m.group("procid"))
    return rest


def _peel_level(h: _Header, m: re.Match[str], rest: str) -> str:
    h.wrappers.append("printk-level")
    h.trusted = h.trusted and int(m.group(1)) >> 3 == 0   # <PRI> of another facility than kern
    return rest


def _peel_mono(h: _Header, m: re.Match[str], rest: str) -> str:
    h.uptime = float(m.group(1))
    if h.prefix == "bare":
        h.prefix = "dmesg"
    return _kernel_tag_after(h, rest)


def _peel_caller(h: _Header, m: re.Match[str], rest: str) -> str:
    h.wrappers.append("caller-id")
    return rest


def _peel_dmesg_t(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "dmesg-T")
    return rest


def _peel_time(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "time")
    return _kernel_tag_after(h, rest)


def _peel_kmsg(h: _Header, m: re.Match[str], rest: str) -> str:
    h.prefix = "kmsg"
    h.uptime = int(m.group(3)) / 1e6
    h.trusted = h.trusted and int(m.group(1)) >> 3 == 0   # facility != kern: from userspace
    return rest


def _peel_iso(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "iso")
    return _host_tag_after(h, rest, strict=True)


def _peel_unix(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "journal-unix")
    return _host_tag_after(h, rest, strict=True)


def _peel_journal_full(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "journal-full")
    return _host_tag_after(h, rest, strict=False)


def _peel_syslog(h: _Header, m: re.Match[str], rest: str) -> str:
    h.stamp(m, "syslog")
    h.tag(m.group("host"), m.group("tag"), m.group("pid"))
    return rest


def _peel_syslog_notag(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare":
        return None
    h.stamp(m, "syslog")
    h.trusted = False   # a syslog stamp without a "host tag:" we understand: not kernel output
    return rest


_BARE_KERNEL_TAG = re.compile(r"kernel: ")


def _peel_bare_kernel_tag(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare" or h.timestamp is not None:
        return None
    h.tag(None, "kernel", None)
    return rest


# An rsyslog output template "%syslogseverity-text%|%programname%[%procid%]|%msg%": the severity's name as
# rsyslog spells it, the program, its pid ("-" when the message has none, as the kernel's have)
_TEMPLATE = re.compile(
    r"(?:emerg|alert|crit|err|warning|notice|info|debug)\|(?P<tag>[^\s|\[\]:]+)(?:\[(?P<pid>-|\d+)\])?\|")


def _peel_template(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare":
        return None
    h.prefix = "rsyslog-template"
    pid = m.group("pid")
    h.tag(None, m.group("tag"), None if pid == "-" else pid)
    return rest.lstrip(" ")   # rsyslog's %msg% keeps the blank after the tag's colon: "warning|kernel[-]| [ 12.3] ..."


def _peel_dmesg_x(h: _Header, m: re.Match[str], rest: str) -> str:
    if h.prefix == "bare":
        h.prefix = "dmesg-x"
    h.trusted = h.trusted and m.group("fac") == "kern"
    return rest


# A log viewer's level label glued to the syslog header it precedes ("error:Jul 13 15:55:12 host kernel: ..."): peeled
# only when a whole syslog header follows it at once
_LEVEL_LABEL = re.compile(r"(?i:emerg|alert|crit|critical|err|error|warn|warning|notice|info|debug|fatal):(?=\S)")


def _peel_level_label(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare" or _SYSLOG.match(rest) is None:
        return None
    h.wrappers.append("level-label")
    return rest


# OpenWrt logread (ubox log/logread.c): "%s %s%s.%s%s %s": ctime(), an optional "[sec.ms] " (-t), facility "."
# priority names, " kernel:" for the kernel's messages, the message ("Sat Jan 25 09:40:15 2020 kern.warn kernel: ...")
_LOGREAD = re.compile(
    r"(?P<ts>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d \d{4}) (?:\[\d+\.\d{3}\] )?"
    r"(?P<fac>[a-z]{2,8}\d?)\.(?P<pri>[a-z]{3,7})(?P<k> kernel:)? ")


def _peel_logread(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare":
        return None
    h.stamp(m, "logread")
    h.trusted = h.trusted and m.group("fac") == "kern" and m.group("k") is not None
    return rest


# grep -H (several files given, or -r): each line starts with its file's name and a colon (and -n's line number);
# peeled only when a record header follows at once, and only for a path or a log file's name
_GREP_FILE = re.compile(r"(?:\.{0,2}/)?(?:[\w.@+-]+/)*[\w.@+-]*(?:log|messages|syslog)[\w.@+-]*(?::\d{1,9})?:(?=\S)"
                        r"|/(?:[\w.@+-]+/)*[\w.@+-]+(?::\d{1,9})?:(?=\S)")


def _peel_grep_file(h: _Header, m: re.Match[str], rest: str) -> str | None:
    if h.prefix != "bare" or not (_SYSLOG.match(rest) or _MONO.match(rest) or _ISO.match(rest) or _LOGREAD.match(rest)
                                  or _JFULL.match(rest)):
        return None
    h.wrappers.append("grep-file")
    return rest


# Record-header recognisers by the first character of what is left, most specific first.
_PEELERS: dict[str, tuple[tuple[re.Pattern[str], _PeelFn], ...]] = {
    "<": ((_RFC5424, _peel_rfc5424), (_LEVEL, _peel_level)),
    "[": ((_MONO, _peel_mono), (_CALLER, _peel_caller), (_DMESG_T, _peel_dmesg_t),
          (_TIME_ONLY, _peel_time)),
    "/": ((_GREP_FILE, _peel_grep_file),),
    ".": ((_GREP_FILE, _peel_grep_file),),
}
_DIGIT_PEELERS: tuple[tuple[re.Pattern[str], _PeelFn], ...] = ((_KMSG, _peel_kmsg), (_ISO, _peel_iso), (_UNIX, _peel_unix),
                  (_SYSLOG, _peel_syslog), (_TIME_ONLY, _peel_time))   # "3月 27 .." is syslog
_TEMPLATE_PEELERS: tuple[tuple[re.Pattern[str], _PeelFn], ...] = ((_TEMPLATE, _peel_template),)
_ALPHA_PEELERS: tuple[tuple[re.Pattern[str], _PeelFn], ...] = ((_JFULL, _peel_journal_full), (_SYSLOG, _peel_syslog),
                  (_SYSLOG_NOTAG, _peel_syslog_notag), (_DMESG_X, _peel_dmesg_x), (_LEVEL_LABEL, _peel_level_label),
                  (_GREP_FILE, _peel_grep_file))
_OTHER_ALPHA_PEELERS: tuple[tuple[re.Pattern[str], _PeelFn], ...] = ((_LOGREAD, _peel_logread),
                                                                     (_GREP_FILE, _peel_grep_file))


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
