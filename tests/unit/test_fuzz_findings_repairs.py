"""Findings of a hostile-input campaign against the paste repairs (mail wraps, quoted-printable, a terminal's wrap
padding, structured JSON logs, rsyslog templates, OOM[N]: prefixes, elisions, repeats): the real logs of
tests/data/postmortem/realoom4-7 and tests/data/oomreport/corpus wrapped, encoded, padded, cut and shuffled. Each
test is the smallest input that showed a wrong answer that looked right, a lost report or a crash, with the
inputs next to it that must not change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import OomEvent, iter_events

# a 4.19+ report around its task table, pid 200 (beta) killed: its first lines, the table's header, its last lines
HEAD = ["x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"]
TABLE = ["Tasks state (memory values in pages):",
         "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"]
TAIL = ["oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),global_oom,task_memcg=/,task=beta,pid=200,uid=0",
        "Out of memory: Killed process 200 (beta) total-vm:358672kB, anon-rss:22640kB, file-rss:12328kB, "
        "shmem-rss:0kB, UID:0 pgtables:421888kB oom_score_adj:0"]


def _stamped(msgs: list[str], t0: float = 10.0) -> list[str]:
    return [f"[{t0 + i / 10000:12.6f}] {m}" for i, m in enumerate(msgs)]


def _row(pid: int, rss: int, name: str) -> str:
    return f"[{pid:7d}] {0:5d} {pid:5d} {rss * 2:8d} {rss:8d} {65536:8d} {0:8d}         {0:5d} {name}"


def _cloud_logging(lines: list[str]) -> str:
    """A Google Cloud Logging export of serial-console lines: pretty-printed, one object of 11 lines per record,
    its text escaped once more (as tests/data/postmortem/realoom7/017 is)."""
    recs = []
    for line in lines:
        payload = json.dumps(line + "\\r\\n")
        recs.append('  {\n    "textPayload": ' + payload + ',\n    "insertId": "1",\n    "resource": {\n'
                    '      "type": "gce_instance"\n    },\n    "severity": "INFO",\n'
                    '    "labels": {\n      "is_text_escaped": "true"\n    }\n  }')
    return "[\n" + ",\n".join(recs) + "\n]\n"


def _events(text: str) -> list[OomEvent]:
    return list(iter_events([text.encode()]))


# --- a report continued by a region's lookback lines is not finished at the region's hit line ------------------

def _long_report() -> list[str]:
    """A header, 12 lines of another driver (the region the header opened goes quiet), then 95 rows, the summary
    and the kill line: the kill line's region finds the table by walking back from it."""
    rows = [_row(100 + i, 1000 + i, f"p{i}") for i in range(94)] + [_row(200, 9000, "beta")]
    return _stamped(HEAD + [f"usb 1-{i}: device not accepting address {i}, error -71" for i in range(12)]
                    + TABLE + rows + TAIL)


def test_a_pretty_printed_json_report_is_not_split_where_its_table_is_found_by_walking_back() -> None:
    # 110 records of 11 lines: the kill line is at line 1211 of the export, the header at line 3, the table's
    # first line at line 146; the table continues the header's report (143 lines after it, under the 1000-line
    # gap), so the report is one: was finished at the kill line's 1208-line distance before its table was read
    text = _cloud_logging(_long_report())
    (ev,) = _events(text)
    assert ev.invoked is not None and ev.invoked.comm == "x"
    assert [k.pid for k in ev.killed] == [200] and ev.table is not None and len(ev.table.rows) == 95
    assert ev.start_line == 3 and not any("starts mid-way" in n for n in ev.notes)


def test_the_same_report_in_plain_lines_is_one_too_and_a_real_gap_still_splits() -> None:
    (ev,) = _events("\n".join(_long_report()) + "\n")
    assert ev.invoked is not None and [k.pid for k in ev.killed] == [200]
    # what must not change: 1,001 unrelated lines between the header and the table are a gap (MAX_GAP_LINES)
    lines = _long_report()
    lines[1:13] = _stamped([f"usb 1-1: device not accepting address {i}, error -71" for i in range(1001)], 10.5)
    first, second = _events("\n".join(lines) + "\n")
    assert first.invoked is not None and not first.killed
    assert second.invoked is None and [k.pid for k in second.killed] == [200]



def test_the_report_is_one_whatever_the_chunks_the_input_is_read_in() -> None:
    # a chunk that ended with no anchor in it released, at its last line, the header's report as over (1000 lines
    # past its end), though the lookback of a kill line in the next chunk went on to feed lines before that one
    import io

    from oomlens.oomreport.scan import EventParser

    data = _cloud_logging(_long_report()).encode()
    for size in (1, 4096, 65536):
        (ev,) = list(iter_events([data[i:i + size] for i in range(0, len(data), size)]))
        assert ev.invoked is not None and [k.pid for k in ev.killed] == [200] and ev.start_line == 3, size
        (ev,) = list(EventParser().read_from(io.BytesIO(data), size))
        assert ev.invoked is not None and [k.pid for k in ev.killed] == [200] and ev.start_line == 3, size

# --- T from Mem-Info totals with a line missing, and from a score the table cannot give -----------------------

CORPUS = Path(__file__).parents[1] / "data" / "oomreport" / "corpus"
LOG010 = (CORPUS / "010-notes-qemu-6.11-stress-ng.log").read_text()


def _analyse(text: str) -> list[dict[str, Any]]:
    out = [a.to_dict() for a in analyze_events(_events(text), strict=True)]
    json.dumps(out)
    return out


def test_a_missing_pages_reserved_line_leaves_t_approximate() -> None:
    # a terminal's padding left '67366 pages reserve<blanks>d' unread (the padding's width unknown), a paste lost it:
    # 6.11's show_mem() prints 'pages reserved' after 'pages RAM', so without it T = 2097022 RAM − ? reserved + 0 swap
    # is not known exactly (it is 2097022 − 67366 = 2029656); was 'exact' with 0 reserved
    (d,) = _analyse(LOG010.replace("[   30.745823] 67366 pages reserved\n", ""))
    assert d["totalpages_exact"] is False and "'pages reserved' line is missing" in d["totalpages_how"]
    assert d["verdict"] == "agrees"  # stress-ng-vm's 1995298 rss leads whatever T is
    # what must not change: with the line, T = 2097022 − 67366 + 0 = 2029656, exact
    (d,) = _analyse(LOG010)
    assert d["totalpages"] == 2029656 and d["totalpages_exact"] is True


def _report35(score: int) -> list[str]:
    """A 3.5 report: pages scoring (spec table: 3.5-3.13) with the 2.6.36-3.5 table, which has no swap column."""
    def row(pid: int, rss: int, name: str) -> str:
        return f"[{pid:5d}] {1000:5d} {pid:5d} {2 * rss:8d} {rss:8d} {0:3d}     {0:3d}         {0:5d} {name}"
    return _stamped(["x invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0",
                     "x cpuset=/ mems_allowed=0", "Pid: 100, comm: x Not tainted 3.5.0 #1", "Call Trace:", "Mem-Info:",
                     "Free swap  = 4194304kB", "Total swap = 4194304kB", "1048576 pages RAM", "16384 pages reserved",
                     "[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name",
                     row(100, 5000, "x"), row(150, 3000, "gamma"), row(200, 20000, "beta"),
                     f"Out of memory: Kill process 200 (beta) score {score} or sacrifice child",
                     "Killed process 200 (beta) total-vm:160000kB, anon-rss:80000kB, file-rss:0kB"])


def test_t_is_not_inferred_from_a_score_the_table_shows_only_a_lower_bound_of() -> None:
    # T ~ 1048576 RAM − 16384 reserved + 4194304 kB / 4 swap = 2080768 (approximate before 3.14); beta's score 96
    # means 96/1000 of T, about 199753..201834 points (rss + swap: it had swapped), while the table shows its rss
    # 20000 only. T inferred from 20000 points would be 20000*1000/97+1 .. 20000*1000/96 = 206186..208333: ten times
    # too small, and it was printed as T, the score 'matching'
    (d,) = _analyse("\n".join(_report35(96)) + "\n")
    assert d["totalpages"] == 2080768 and d["totalpages_exact"] is False
    assert d["score_check"]["matches"] is False and "199753..201834" in d["score_check"]["implied"]
    assert "inferred" not in d["totalpages_how"] and d["verdict"] == "agrees"  # beta leads, as the kernel chose
    assert "no swap/page-table columns" in d["reason"]


# --- a task-table row cut short right after its pid ------------------------------------------------------------

MEMCG_ROWS = ["Task in /l killed as a result of limit of /l", "memory: usage 102400kB, limit 102400kB, failcnt 9",
              "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
              "[24386]     0 24386     1870      210       9       3        0             0 stress",
              "[24387]     0 24387   129871    25611      61       3        0             0 stress",
              "Memory cgroup out of memory: Kill process 24387 (stress) score 972 or sacrifice child",
              "Killed process 24387 (stress) total-vm:519484kB, anon-rss:102224kB, file-rss:212kB"]


def test_a_row_cut_after_its_pid_makes_the_table_incomplete() -> None:
    # '[24387]' alone was noise: the table read as whole without the victim's row, so 'disagrees' (the killed pid
    # not in it); the row is there, cut short: its columns are unknown, the table incomplete
    for cut in ("[24387]", "[24387] ", "[  24387]"):
        lines = MEMCG_ROWS.copy()
        lines[4] = cut
        (d,) = _analyse("\n".join(_stamped(lines)) + "\n")
        assert d["verdict"] == "undecidable" and "incomplete" in d["reason"], cut
        assert any("row of pid 24387 cut short" in n for n in d["notes"]), cut
    # its pid cut too: no pid is read from it, the table is incomplete all the same
    lines = MEMCG_ROWS.copy()
    lines[4] = "[2438"
    (d,) = _analyse("\n".join(_stamped(lines)) + "\n")
    assert d["verdict"] == "undecidable" and any("'[2438'" in n for n in d["notes"])
    # what must not change: the whole table agrees (24387: 25611 + 61 + 3 pages against 24386's 210 + 9 + 3)
    (d,) = _analyse("\n".join(_stamped(MEMCG_ROWS)) + "\n")
    assert d["verdict"] == "agrees" and d["model_victim"]["pid"] == 24387


# --- an elision in a structured log's task table ------------------------------------------------------------------

def _docker(lines: list[str]) -> str:
    """A Docker json-file log of a program that printed these lines (one object a line, the text in "log")."""
    return "".join(json.dumps({"log": line + "\n", "stream": "stdout", "time": "2024-07-15T23:44:32Z"}) + "\n"
                   for line in lines)


def test_an_elision_record_without_a_host_leaves_a_hosts_table_incomplete() -> None:
    # syslog lines of host rocky8 pasted into a container's output with '[...]' where rows were left out: the
    # elision's record has no header, so no host (a JSON record continues no other), and it was dropped as another
    # host's line: the table read as whole, 'agrees'
    rows = ["[  100]  1000   100     9772     1172   110592        0             0 alpha",
            "[  150]  1000   150    20000     3000   110592        0             0 gamma",
            "[  200]  1000   200    89668     8742   421888        0             0 beta"]
    body = HEAD + TABLE + rows[:2]
    tail = rows[2:] + TAIL
    syslog = ["Jul 15 23:44:32 rocky8 kernel: " + m for m in _stamped(body)]
    syslog_tail = ["Jul 15 23:44:32 rocky8 kernel: " + m for m in _stamped(tail, 10.01)]
    (d,) = _analyse(_docker(syslog + ["[...]"] + syslog_tail))
    assert d["verdict"] == "undecidable" and "left out" in d["reason"]
    assert any("'[...]' inside the task table" in n for n in d["notes"])
    # what must not change: without it the table is whole and beta (8742 + 421888/4096 = 8845 pages) leads
    (d,) = _analyse(_docker(syslog + syslog_tail))
    assert d["verdict"] == "agrees" and d["model_victim"]["pid"] == 200
    # and an elision of another host's lines (its own header) leaves this host's table alone
    (d,) = _analyse(_docker(syslog + ["Jul 15 23:44:32 other kernel: [...]"] + syslog_tail))
    assert d["verdict"] == "agrees"


# --- a wrapped record is joined up to the length of a kernel record, not on and on -------------------------------

def test_an_unparsed_line_does_not_swallow_every_header_less_line_after_it() -> None:
    from oomlens.oomreport.events import Item, _join_wrapped, classify_line
    from oomlens.oomreport.normalize import Normalizer

    # a syslog line cut inside the header, then rows pasted without headers: each row was joined to the unparsed
    # line and the whole re-read (20,000 lines: 36 s for 10,000, 4 minutes for 20,000; quadratic)
    raw = ["Mar  1 10:00:00 h kernel: beta invoked oom-killer: gfp_mask=0x"] + [
        f"[{i:7d}]     0 {i:5d}     9772     1172   110592        0             0 n{i}" for i in range(1, 400)]
    norm = Normalizer()
    items = [Item(n, ll, *classify_line(ll.text, ll.trusted, n)) for n, r in enumerate(raw, 1) for ll in norm.normalize(r)]
    out = _join_wrapped(items)
    assert max(len(it.line.text) for it in out) < 2048  # twice the 1024 bytes printk keeps of a record
    assert sum(it.kind == "table-row" for it in out) > 350   # the rows after that are rows again


# --- quoted-printable soft breaks inside a hit line's first words ----------------------------------------------

QP_SYSLOG = """\
Sep 12 10:11:12 ubuntu-s-1vcpu-2gb-ams3-01 kernel: [  518.050606] Out of me=
mory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:4288kB, fil=
e-rss:3028kB, shmem-rss:0kB
Sep 12 10:11:12 ubuntu-s-1vcpu-2gb-ams3-01 kernel: [  518.053407] oom_reape=
r: reaped process 15784 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rs=
s:0kB
"""


def test_a_kill_line_soft_broken_before_its_wording_is_found_and_decoded() -> None:
    # a mail body's 76 columns less a 66-character syslog prefix break 'Out of me=' 'mory: Killed process ...': the
    # anchor's line ('mory: Killed process') is no kill line alone, its record starts on the line before; and the
    # kill line runs over three lines, so no one soft break joins it whole: the mail was not taken for QP either.
    # Nothing was found (realoom6/016 so encoded: none of its four kills)
    (ev,) = _events(QP_SYSLOG)
    (k,) = ev.killed
    assert (k.pid, k.name, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (
        15784, "python3", 11964, 4288, 3028, 0)
    assert [r.pid for r in ev.reaped] == [15784] and ev.host == "ubuntu-s-1vcpu-2gb-ams3-01"
    assert any("quoted-printable" in n for n in ev.notes)


def test_a_line_ending_in_equals_before_other_text_opens_nothing() -> None:
    # what must not change: a value ending in '=' (base64 padding) before a line that mentions a process
    lines = ["Sep 12 10:11:12 h app[12]: token dGVzdA=", "the worker process 15784 exited",
             "Sep 12 10:11:12 h app[12]: key YWJjZA==", "Killed process 15784 (python3) by the supervisor",
             "Sep 12 10:11:12 h kernel: usb 1-1: x=", "oom-killer: is not running"]
    assert _events("\n".join(lines) + "\n") == []


# --- an rsyslog template whose %msg% keeps its leading blank ---------------------------------------------------

def test_an_rsyslog_template_with_a_blank_before_the_message_reads_the_stamp() -> None:
    # rsyslog's %msg% starts with the blank after the tag's colon: 'warning|kernel[-]| [2919920.414131] memhog ...'
    # left the stamp in the text: the task was named '[2919920.414131] memhog', the memcg usage line was not read
    # and the report had no time
    msgs = ["warning|kernel[-]| [2919920.414131] memhog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, "
            "oom_score_adj=0",
            "info|kernel[-]| [2919920.414220] memory: usage 81920kB, limit 81920kB, failcnt 30",
            "err|kernel[-]| [2919920.414272] Memory cgroup out of memory: Killed process 2021820 (memhog) "
            "total-vm:105048kB, anon-rss:81884kB, file-rss:1544kB, shmem-rss:0kB, UID:0 pgtables:204kB "
            "oom_score_adj:0"]
    (ev,) = _events("\n".join(msgs) + "\n")
    assert ev.invoked is not None and ev.invoked.comm == "memhog" and ev.uptime == 2919920.414131
    assert ev.memcg is not None and ev.memcg.limit_kb == 81920 and ev.killed[0].prefix == "Memory cgroup out of memory"
    # what must not change: the same lines without the blank
    (ev2,) = _events("\n".join(m.replace("| [", "|[") for m in msgs) + "\n")
    assert (ev2.invoked, ev2.memcg, ev2.uptime) == (ev.invoked, ev.memcg, ev.uptime)


# --- a terminal's padding measured by the records it splits, whatever their first row reads as ------------------

def _term_padded(line: str, width: int, window: int) -> str:
    """A record wrapped at ``width`` columns, its first row padded with blanks to ``window`` (rows copied as one)."""
    return line if len(line) <= width else line[:width] + " " * (window - width) + line[width:]


def test_the_padding_width_is_measured_by_records_whose_first_row_reads_as_nothing() -> None:
    # realoom6/016's kill burst copied from a terminal 93 columns wide (the window 170): a reaper line's first row
    # '... oom_reaper: reaped process ' (its blank, then 170 − 93 = 77 of padding: a run of 78) is no record, yet
    # the record reads whole in one way only (a blank there), which measures the padding: 78 − 1 = 77; the kill
    # line split inside its wording ('Killed proce' / 'ss 15925 ...', a run of 77) is then rejoined with 77 − 77 = 0
    # blanks.
    # The width was taken only from records whose first row read as a one-blank record itself, so never here, and
    # the kill line was left unread: its report lost
    prefix = "May 15 23:09:30 ubuntu-s-1vcpu-2gb-ams3-01 kernel: "
    recs = [prefix + "[  518.053407] oom_reaper: reaped process 15784 (python3), now anon-rss:0kB, file-rss:0kB, "
            "shmem-rss:0kB",
            prefix + "[  518.061172] Out of memory: Killed process 15925 ((resolved)) total-vm:168424kB, "
            "anon-rss:4064kB, file-rss:3584kB, shmem-rss:0kB",
            prefix + "[  518.064186] oom_reaper: reaped process 15925 ((resolved)), now anon-rss:0kB, file-rss:0kB, "
            "shmem-rss:0kB"]
    width = len(prefix + "[  518.061172] Out of memory: Killed proce")
    assert width == 93
    evs = _events("".join(_term_padded(r, 93, 170) + "\n" for r in recs))
    (ev,) = [e for e in evs if e.killed]
    (k,) = ev.killed
    assert (k.pid, k.name, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (
        15925, "(resolved)", 168424, 4064, 3584, 0)
    assert [r.pid for r in ev.reaped] == [15925]
    assert any("wrap padding" in n and "rejoined" in n for n in ev.notes)


# --- a summary line cut before its constraint ----------------------------------------------------------------------

SUMMARY010 = ("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,"
              "task=stress-ng-vm,pid=116,uid=0")


def test_a_summary_line_cut_before_its_constraint_leaves_the_constraint_unknown() -> None:
    # a terminal's padding inside 'CONSTRAINT_MEMORY<blanks>_POLICY' (not rejoined: the width unknown) left the
    # summary line cut there; the report's Mem-Info then made it global with T exact (pages RAM − reserved + swap),
    # though a cpuset or mempolicy OOM counts only its nodes' pages: the constraint is unknown, T at most that
    assert SUMMARY010 in LOG010
    (d,) = _analyse(LOG010.replace(SUMMARY010, "oom-kill:constraint=CONSTRAINT_NO"))
    assert d["constraint"] == "unknown" and d["totalpages_exact"] is False and "at most" in d["totalpages_how"]
    assert d["verdict"] == "agrees"   # stress-ng-vm's 1995298 rss pages lead whatever T is
    # what must not change: cut after its constraint, or no summary line at all (before 5.0 there is none)
    (d,) = _analyse(LOG010.replace(SUMMARY010, SUMMARY010[:70]))
    assert d["constraint"] == "CONSTRAINT_NONE" and d["totalpages"] == 2029656 and d["totalpages_exact"] is True
    (d,) = _analyse(LOG010.replace("[   30.745839] " + SUMMARY010 + "\n", ""))
    assert d["constraint"] == "CONSTRAINT_NONE" and d["totalpages"] == 2029656 and d["totalpages_exact"] is True


# --- a mail quote inside an indented block ---------------------------------------------------------------------------

def test_a_quote_marker_after_four_blanks_is_peeled() -> None:
    # realoom6/005 (a quoted mail: '> [   37.128158][ T9185] ...') indented once more by 4 blanks (a forum's code
    # block, a mail quoting it again): '>' after more than 3 blanks was text, so no stamp, caller id or
    # 'Tasks in /test1 are going to be killed due to memory.oom.group set' line was read: the group kill of
    # 12 tasks became 12 reports
    log005 = next((Path(__file__).parents[1] / "data" / "postmortem" / "realoom6").glob("005-*.log")).read_text()
    plain = _events(log005)
    indented = _events("".join("    " + line + "\n" for line in log005.splitlines()))
    assert len(plain) == 1 and plain[0].oom_group_path == "/test1" and len(plain[0].killed) == 12
    assert [(e.uptime, e.oom_group_path, [k.pid for k in e.killed]) for e in indented] == [
        (e.uptime, e.oom_group_path, [k.pid for k in e.killed]) for e in plain]
