"""The parser's repairs of mangled pastes, each with the lines it must leave alone: console output glued before a
time stamp, a syslog line glued after a selection line, records hard-wrapped by a mail client (task-table rows
included), quoted-printable mail bodies, ``OOM[N]:`` serial prefixes with a deferred task table, and elisions
inside a task table. Real reports of each are in tests/data/postmortem/realoom4 (test_postmortem_realoom4.py).
Then the formats and damages of tests/data/postmortem/realoom7 (test_postmortem_realoom7.py): rsyslog
``severity|program[pid]|`` templates, structured (JSON) logs, a terminal's wrap padding, an OOM line glued to a
call-trace frame."""

from __future__ import annotations

import json

from oomlens.oomreport import OomEvent, iter_events
from oomlens.oomreport.normalize import normalize_line

INVOKED = "x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
HEADER = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
ROW_A = "[    100]     0   100     9772     1172   110592        0             0 alpha"
ROW_B = "[    200]     0   200    89668     8742   421888        0             0 beta"
SUMMARY = "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),global_oom,task_memcg=/,task=beta,pid=200,uid=0"
KILLED = ("Out of memory: Killed process 200 (beta) total-vm:358672kB, anon-rss:22640kB, file-rss:12328kB, "
          "shmem-rss:0kB, UID:0 pgtables:421888kB oom_score_adj:0")


def _stamped(msgs: list[str], t0: float = 10.0) -> list[str]:
    return [f"[{t0 + i / 1000:12.6f}] {m}" for i, m in enumerate(msgs)]


def _one(lines: list[str]) -> OomEvent:
    (ev,) = list(iter_events(lines))
    return ev


# --------------------------------------------------------------------------- console output before a stamp

def test_console_text_before_a_stamp_is_dropped_when_an_oom_line_follows_it() -> None:
    lines = ["Starting foo: " + _stamped([INVOKED])[0]] + _stamped([HEADER, ROW_A, ROW_B, SUMMARY, KILLED], 10.001)
    ev = _one(lines)
    assert ev.invoked is not None and ev.invoked.comm == "x" and ev.uptime == 10.0
    assert any("'Starting foo:'" in n for n in ev.notes)


def test_a_stamp_inside_a_line_is_left_alone_when_no_oom_line_follows_it() -> None:
    glued = "Starting foo: [   10.000500] usb 1-1: new high-speed USB device"
    ev = _one(_stamped([INVOKED]) + [glued] + _stamped([HEADER, ROW_A, ROW_B, SUMMARY, KILLED], 10.001))
    assert not any("dropped" in n for n in ev.notes) and ev.uptime == 10.0
    # a line with a stamp of its own keeps what follows it: the inner stamp is text
    [ll] = normalize_line("[   10.000000] foo: [   10.000500] bar")
    assert ll.text == "foo: [   10.000500] bar"


# --------------------------------------------------------------------------- a syslog line glued after "child"

def test_a_whole_syslog_line_glued_after_the_selection_wording_is_read_as_its_own_line() -> None:
    raw = ("Sep 12 10:11:12 h kernel: Out of memory: Kill process 200 (beta) score 673 or sacrifice child"
           "Sep 12 10:11:12 h kernel: Killed process 200 (beta) total-vm:1000kB, anon-rss:400kB, file-rss:0kB")
    sel, kill = normalize_line(raw)
    assert sel.text.endswith("or sacrifice child") and "glued-syslog" in sel.wrappers
    assert kill.text.startswith("Killed process 200 (beta)") and kill.host == "h" and kill.trusted
    ev = _one([raw])
    assert ev.selection is not None and ev.selection.score == 673 and [k.pid for k in ev.killed] == [200]


def test_text_after_the_wording_that_is_not_a_syslog_start_is_not_split() -> None:
    for tail in ("hood", "September", "Sep 12", "Sept 12 10:11:12 h kernel: x", "Foo 12 10:11:12 h kernel: x"):
        [ll] = normalize_line("Out of memory: Kill process 200 (beta) score 673 or sacrifice child" + tail)
        assert ll.text.endswith("child" + tail.strip()) and "glued-syslog" not in ll.wrappers


# --------------------------------------------------------------------------- records hard-wrapped by a mail client

def _wrapped(row: str, at: int) -> list[str]:
    """A stamped row wrapped after its ``at``-th column, the continuation without a prefix of its own."""
    head = row.split()
    cut = 2 + at   # "[", "100]" then the numbers
    return [f"[   10.000100] {' '.join(head[:cut])}", "    " + " ".join(head[cut:])]


def test_a_row_wrapped_before_its_last_columns_is_rejoined() -> None:
    lines = (_stamped([INVOKED, HEADER]) + _wrapped(ROW_A, 5) + _wrapped(ROW_B, 7)
             + _stamped([SUMMARY, KILLED], 10.01))
    ev = _one(lines)
    assert ev.table is not None and not ev.table.truncated
    a, b = ev.table.rows
    assert (a.pid, a.pgtables_bytes, a.swapents, a.oom_score_adj, a.name) == (100, 110592, 0, 0, "alpha")
    assert (b.pid, b.oom_score_adj, b.name) == (200, 0, "beta")
    assert any("rejoined" in n for n in ev.notes)


def test_a_wrapped_header_and_cpu_line_are_rejoined() -> None:
    cpu = "CPU: 3 PID: 412 Comm: x Tainted: G        W"
    at = HEADER.index(" swapents")
    lines = (_stamped([INVOKED, cpu]) + ["I     4.9.0-rc3 #1"] + _stamped([HEADER[:at]]) + [HEADER[at + 1:]]
             + _stamped([ROW_A, ROW_B, SUMMARY, KILLED], 10.01))
    ev = _one(lines)
    assert ev.kernel_release == "4.9.0-rc3" and ev.cpu is not None and ev.cpu.pid == 412
    assert ev.table is not None and ev.table.columns[-1] == "name" and len(ev.table.rows) == 2


def test_a_continuation_that_could_itself_be_a_row_or_splits_a_number_is_not_joined() -> None:
    # a row cut before its name, then a line that is a row of its own: both rows stay as they are
    lines = _stamped([INVOKED, HEADER]) + ["[   10.000100] [    100]     0   100     9772     1172"] + [
        "[    200]     0   200    89668     8742   421888        0             0 beta"] + _stamped([SUMMARY, KILLED], 10.01)
    ev = _one(lines)
    assert ev.table is not None and ev.table.truncated and [r.pid for r in ev.table.rows] == [200]
    # a number cut in two by the wrap ("11" / "72"): one number too many, the name would start with a number
    lines = _stamped([INVOKED, HEADER]) + ["[   10.000100] [    100]     0   100     9772     11",
                                           "72   110592        0             0 alpha"] + _stamped(
        [ROW_B, SUMMARY, KILLED], 10.01)
    ev = _one(lines)
    assert ev.table is not None and ev.table.truncated and [r.pid for r in ev.table.rows] == [200]
    assert not any("rejoined" in n for n in ev.notes)


def test_a_bare_kill_line_takes_the_values_wrapped_onto_the_next_line() -> None:
    lines = _stamped([INVOKED, HEADER, ROW_A, ROW_B, SUMMARY, "Out of memory: Killed process 200 (beta)"]) + [
        "total-vm:358672kB, anon-rss:22640kB, file-rss:12328kB, shmem-rss:0kB"]
    (k,) = _one(lines).killed
    assert (k.total_vm_kb, k.anon_rss_kb, k.variant) == (358672, 22640, "4.5")


# --------------------------------------------------------------------------- quoted-printable

def test_a_quoted_printable_report_is_decoded() -> None:
    lines = ["x invoked oom-killer: gfp_mask=3D0xcc0(GFP_KERNEL), order=3D0, oom_score_=",
             "adj=3D0", HEADER, ROW_A, ROW_B, SUMMARY.replace("=", "=3D"),
             "Out of memory: Killed process 200 (beta) total-vm:358672kB, anon-rss:22640kB, file-rss:123=",
             "28kB, shmem-rss:0kB, UID:0 pgtables:421888kB oom_score_adj:0"]
    ev = _one(lines)
    assert ev.invoked is not None and ev.invoked.oom_score_adj == 0 and ev.invoked.gfp_mask == 0xcc0
    assert ev.summary is not None and ev.summary.pid == 200
    assert ev.killed[0].file_rss_kb == 12328
    assert any("quoted-printable" in n for n in ev.notes)


def test_a_soft_break_alone_is_evidence_but_an_unescaped_equals_sign_is_not_quoted_printable() -> None:
    # no "=3D" anywhere, but "file-rss:123=" + "28kB, .." only parses with the "=" dropped: a soft break
    kill = ["Out of memory: Killed process 200 (beta) total-vm:358672kB, anon-rss:22640kB, file-rss:123=",
            "28kB, shmem-rss:0kB, UID:0 pgtables:421888kB oom_score_adj:0"]
    ev = _one([HEADER, ROW_A, ROW_B] + kill)
    assert ev.killed[0].file_rss_kb == 12328
    # the same lines next to an "=" that is neither an escape nor at a line's end ("gfp_mask=0xcc0"): not decoded
    ev = _one([INVOKED, HEADER, ROW_A, ROW_B] + kill)
    assert all(k.file_rss_kb != 12328 for k in ev.killed) and not any("quoted-printable" in n for n in ev.notes)
    # a comm that starts with "3D" in a plain report is not an escape
    ev = _one(_stamped([INVOKED, HEADER, ROW_A, ROW_B.replace("beta", "3Dmark"),
                        SUMMARY.replace("beta", "3Dmark"), KILLED.replace("beta", "3Dmark")]))
    assert ev.summary is not None and ev.summary.task == "3Dmark" and ev.killed[0].name == "3Dmark"


# --------------------------------------------------------------------------- OOM[N]: serial prefixes

def test_an_oom_serial_prefix_is_peeled_only_in_its_own_shape() -> None:
    [ll] = normalize_line("[   31.935015][   T71] OOM[12]: " + INVOKED)
    assert ll.text == INVOKED and ll.serial == 12 and ll.uptime == 31.935015
    [ll] = normalize_line("[   31.935015] OOM[12]: " + INVOKED)
    assert ll.text == INVOKED and ll.serial == 12
    for text in ("OOM[x]: " + INVOKED, "foo OOM[1]: " + INVOKED, "OOM[1] " + INVOKED):
        [ll] = normalize_line("[   31.935015] " + text)
        assert ll.text == text and ll.serial is None


def test_a_deferred_table_goes_to_the_report_of_its_serial_only() -> None:
    pre = "OOM[{}]: "
    lines = _stamped([pre.format(4) + INVOKED, pre.format(4) + SUMMARY, pre.format(4) + KILLED,
                      pre.format(4) + HEADER, pre.format(4) + ROW_A, pre.format(4) + ROW_B])
    ev = _one(lines)
    assert ev.table is not None and [r.pid for r in ev.table.rows] == [100, 200]
    assert any("OOM[4]" in n for n in ev.notes)
    # rows of another serial after the kill line are not this report's
    lines[3:] = _stamped([pre.format(5) + HEADER, pre.format(5) + ROW_A, pre.format(5) + ROW_B], 10.01)
    evs = list(iter_events(lines))
    assert len(evs) == 2 and evs[0].table is None


# --------------------------------------------------------------------------- elisions

def test_an_elision_inside_the_task_table_makes_it_incomplete_and_nowhere_else() -> None:
    ev = _one(_stamped([INVOKED, HEADER, ROW_A]) + ["(...snipped...)"] + _stamped([ROW_B, SUMMARY, KILLED], 10.01))
    assert ev.table is not None and ev.table.truncated and any("left out" in n for n in ev.notes)
    ev = _one(_stamped([INVOKED]) + ["..."] + _stamped([HEADER, ROW_A, ROW_B, SUMMARY, KILLED], 10.01))
    assert ev.table is not None and not ev.table.truncated


# --------------------------------------------------------------------------- rsyslog "severity|program[pid]|" templates

def test_an_rsyslog_template_prefix_is_a_record_header_with_its_program_as_the_tag() -> None:
    [ll] = normalize_line("    warning|kernel[-]|[2919920.414131] " + INVOKED)
    assert (ll.text, ll.uptime, ll.trusted, ll.prefix) == (INVOKED, 2919920.414131, True, "rsyslog-template")
    # without a stamp the task name is still the kernel's, not the template's
    lines = [f"{sev}|kernel[-]|{m}" for sev, m in (("warning", INVOKED), ("info", HEADER), ("info", ROW_A),
                                                   ("info", ROW_B), ("info", SUMMARY), ("err", KILLED))]
    ev = _one(lines)
    assert ev.invoked is not None and ev.invoked.comm == "x" and [k.pid for k in ev.killed] == [200]
    assert ev.table is not None and [r.pid for r in ev.table.rows] == [100, 200]
    assert not any("console output" in n for n in ev.notes)


def test_an_rsyslog_template_of_another_program_or_not_a_severity_is_not_the_kernel() -> None:
    # a program other than the kernel, or "kernel" with a pid (logger --tag=kernel), is not kernel output
    for prog in ("logger[42]", "kernel[42]", "sshd"):
        [ll] = normalize_line(f"err|{prog}|{KILLED}")
        assert ll.text == KILLED and not ll.trusted
    assert list(iter_events([f"err|kernel[42]|{KILLED}"])) == []
    # only rsyslog's severity names make a template
    for head in ("information|kernel[-]|", "warn|kernel[-]|", "Warning|kernel[-]|", "err|kernel[-]"):
        [ll] = normalize_line(head + INVOKED)
        assert ll.text == head + INVOKED and ll.prefix == "bare"


# --------------------------------------------------------------------------- structured logs (JSON)

def _gcp_entry(line: str, i: int) -> list[str]:
    """One Cloud Logging entry of a serial console as the console exports it (pretty-printed, text escaped twice)."""
    return ["  {", '    "textPayload": ' + json.dumps(line + "\\r\\n") + ",", f'    "insertId": "{7710 + i}",',
            '    "resource": {', '      "type": "gce_instance",', '      "labels": {',
            '        "zone": "europe-west2-c",', '        "project_id": "p"', "      }", "    },",
            '    "timestamp": "2023-03-15T15:50:35.927515678Z",', '    "severity": "INFO",', '    "labels": {',
            '      "is_text_escaped": "true"', "    },", '    "logName": "projects/p/logs/serial_port_1_output"',
            "  },"]


def test_a_cloud_logging_export_is_read_through_its_json() -> None:
    msgs = _stamped([INVOKED, HEADER, ROW_A, ROW_B, SUMMARY, KILLED])
    lines = ["[", *[x for i, m in enumerate(msgs) for x in _gcp_entry(m, i)], "]"]
    ev = _one(lines)   # each record is 17 lines from the next: the JSON around them is no gap in the report
    assert ev.invoked is not None and ev.invoked.oom_score_adj == 0 and ev.uptime == 10.0
    assert ev.table is not None and not ev.table.truncated and [r.pid for r in ev.table.rows] == [100, 200]
    assert [k.pid for k in ev.killed] == [200] and ev.killed[0].oom_score_adj == 0


def test_journal_json_records_give_host_stamp_and_trust() -> None:
    def rec(msg: str, i: int, transport: str = "kernel") -> str:
        return json.dumps({"__CURSOR": f"s=1;i={i}", "_TRANSPORT": transport, "SYSLOG_IDENTIFIER": "kernel",
                           "_HOSTNAME": "db-2", "_SOURCE_MONOTONIC_TIMESTAMP": str(10_000_000 + i * 1000),
                           "MESSAGE": msg})
    msgs = [INVOKED, HEADER, ROW_A, ROW_B, SUMMARY, KILLED]
    ev = _one([rec(m, i) for i, m in enumerate(msgs)])
    assert ev.host == "db-2" and ev.uptime == 10.0 and [k.pid for k in ev.killed] == [200]
    # "logger -t kernel": the journal says it came by syslog, not from the kernel
    assert list(iter_events([rec(m, i, "syslog") for i, m in enumerate(msgs)])) == []
    # journalctl -o json-pretty
    pretty = [x for i, m in enumerate(msgs) for x in
              ("{", f'\t"__CURSOR" : "s=1;i={i}",', '\t"_TRANSPORT" : "kernel",', f'\t"MESSAGE" : {json.dumps(m)},',
               '\t"_HOSTNAME" : "db-2"', "}")]
    ev = _one(pretty)
    assert ev.table is not None and len(ev.table.rows) == 2 and [k.pid for k in ev.killed] == [200]


def test_a_docker_json_log_line_is_read_and_its_escapes_decoded() -> None:
    path = "/system.slice/run-r1\\x2dx.scope"
    lines = [json.dumps({"log": m + "\n", "stream": "stdout", "time": "2024-01-01T00:00:00Z"})
             for m in _stamped([INVOKED, HEADER, ROW_A, ROW_B, SUMMARY.replace("task_memcg=/", "task_memcg=" + path),
                                KILLED])]
    ev = _one(lines)
    assert ev.summary is not None and ev.summary.task_memcg == path   # "\x2d" is the kernel's text, not an escape
    assert ev.table is not None and len(ev.table.rows) == 2 and ev.uptime == 10.0


def test_json_that_is_not_a_structured_log_is_left_alone() -> None:
    # a key this reader does not know, and JSON framing outside a structured log, are ordinary text
    [ll] = normalize_line(json.dumps({"msg": KILLED}))
    assert ll.text.startswith('{"msg"')
    [ll] = normalize_line('    "insertId": "7710",')
    assert ll.text == '"insertId": "7710",'
    # text escaped twice is known by its escaped line end; without one, its backslashes are the text's
    a, c = normalize_line('"textPayload": "a\\\\tb\\\\r\\\\nc\\\\r\\\\n",')
    assert (a.text, c.text) == ("a\tb", "c")
    [ll] = normalize_line('"textPayload": "a\\\\tb\\\\r\\\\nc",')
    assert ll.text == "a\\tb\\r\\nc"


# --------------------------------------------------------------------------- a terminal's wrap padding

def _terminal(line: str, wrap: int = 80, window: int = 197) -> str:
    """``line`` as copied from a terminal that wrapped it at ``wrap`` columns, each wrapped row padded with blanks
    to the ``window``'s width and the rows copied as one line."""
    rows = [line[i:i + wrap] for i in range(0, len(line), wrap)]
    return "".join(r + " " * (window - wrap) for r in rows[:-1]) + rows[-1]


def test_records_padded_by_a_terminal_are_rejoined_with_the_blanks_they_had() -> None:
    msgs = _stamped([INVOKED, HEADER, ROW_A, ROW_B, SUMMARY, KILLED])
    # the wrap falls inside "oom_score_adj", the header's "oom_score_adj", a row's gap of 13, "anon-rss"
    ev = _one([_terminal(m) for m in msgs])
    assert ev.invoked is not None and ev.invoked.oom_score_adj == 0
    assert ev.table is not None and not ev.table.truncated and ev.table.columns[-2:] == ("oom_score_adj", "name")
    assert [(r.pid, r.oom_score_adj, r.name) for r in ev.table.rows] == [(100, 0, "alpha"), (200, 0, "beta")]
    assert ev.killed[0].anon_rss_kb == 22640 and any("wrap padding" in n for n in ev.notes)


def test_a_padded_record_alone_is_rejoined_when_one_way_reads_it_whole() -> None:
    sel = "[   10.000000] Out of memory: Kill process 6155 (python) score 895 or sacrifice child"
    kill = "[   10.000100] Killed process 6155 (python) total-vm:1054044kB, anon-rss:832856kB, file-rss:2788kB"
    ev = _one([_terminal(sel), _terminal(kill)])   # at col 80: "sacrifice |child", "anon-rss:832856k|B"
    assert ev.selection is not None and (ev.selection.pid, ev.selection.score) == (6155, 895)
    assert ev.killed[0].anon_rss_kb == 832856 and ev.killed[0].file_rss_kb == 2788


def test_a_padded_record_that_reads_whole_both_ways_is_cut_where_the_padding_starts() -> None:
    # the padding inside the task name: "(be" + "ta)" and "(be ta)" are both whole kill lines
    kill = "[   10.010000] " + KILLED
    at = kill.index("(beta)") + 3
    lines = _stamped([INVOKED, HEADER, ROW_A, ROW_B, SUMMARY]) + [kill[:at] + " " * 117 + kill[at:]]
    (k,) = _one(lines).killed
    assert k.pid == 200 and k.name is None and k.anon_rss_kb is None
    # a row padded inside its name, no padded record to measure the padding: the row is cut, the table incomplete
    row = "[   10.000003] " + ROW_B
    lines = _stamped([INVOKED, HEADER, ROW_A]) + [row[:-2] + " " * 117 + row[-2:]] + _stamped([SUMMARY, KILLED], 10.01)
    ev = _one(lines)
    assert ev.table is not None and ev.table.truncated and [r.pid for r in ev.table.rows] == [100]


def test_lines_that_hold_long_runs_of_blanks_themselves_are_left_alone() -> None:
    hw = "Hardware name: Inventec     K600-1G                         /B600G2-1G       , BIOS A1.08 02/17/2014"
    cpu = "CPU: 2 PID: 1440 Comm: oncealloc2 Tainted: G S                5.4.74 #14"
    slab = "bio-0                    20KB         20KB"
    ev = _one(_stamped([INVOKED, cpu, hw, slab, HEADER, ROW_A, ROW_B, SUMMARY, KILLED]))
    assert ev.cpu is not None and ev.cpu.release == "5.4.74"
    assert not any("padding" in n for n in ev.notes)
    # with the padding's width known from a padded kill line, those runs (shorter than it) stay too
    lines = _stamped([INVOKED, cpu, hw, slab, HEADER, ROW_A, ROW_B, SUMMARY]) + [_terminal("[   10.010000] " + KILLED)]
    ev = _one(lines)
    assert ev.cpu is not None and ev.cpu.release == "5.4.74" and ev.killed[0].anon_rss_kb == 22640


# --------------------------------------------------------------------------- an OOM line glued to a call-trace line

FRAME_2_6_16 = "[__alloc_pages+623/795] __alloc_pages+0x26f/0x31b"


def test_an_oom_killer_line_glued_to_a_frame_starts_the_next_report() -> None:
    bare = "oom-killer: gfp_mask=0xd0, order=1"
    lines = [f"May 10 19:57:00 h kernel: {x}" for x in (
        bare, " [out_of_memory+180/209] out_of_memory+0xb4/0xd1", " " + FRAME_2_6_16 + bare,
        " [out_of_memory+180/209] out_of_memory+0xb4/0xd1",
        "Out of Memory: Kill process 1810 (postfixlookup.p) score 50338 and children.",
        "Out of memory: Killed process 4368 (postfixlookup.p).")]
    first, second = iter_events(lines)
    assert first.invoked is not None and first.invoked.order == 1 and not first.killed
    assert second.invoked is not None and second.start_line == 3 and [k.pid for k in second.killed] == [4368]
    assert any("glued to a call-trace line" in n and "either report" in n for n in first.notes)
    assert any("glued to a call-trace line" in n for n in second.notes)


def test_only_a_whole_frame_and_an_oom_line_start_without_a_task_name_are_split() -> None:
    [frame, line] = normalize_line("[  1.0]  [<c0144c2a>] __alloc_pages+0x26f/0x31bMem-Info:")
    assert (frame.text, line.text, line.wrappers) == ("[<c0144c2a>] __alloc_pages+0x26f/0x31b", "Mem-Info:", "glued-trace")
    for text in ("dump_header+0x1/0x2java invoked oom-killer: gfp_mask=0xd0, order=1",   # where does the name start?
                 "dump_header+0x1/0x2 oom-killer: gfp_mask=0xd0, order=1",               # not glued
                 "dump_header+0x1/0x2Mem-Info: foo", FRAME_2_6_16):
        [ll] = normalize_line("[  1.0]  " + text)
        assert ll.text == text and "glued-trace" not in ll.wrappers
