"""Prefix stripping: every log plumbing format seen in real logs, and a few beyond."""

from __future__ import annotations

import pytest

from oomlens.oomreport.normalize import LogLine, Normalizer, clock_seconds, normalize_line

MSG = "Out of memory: Killed process 651 (unattended-upgr)"

# (raw line, text, host, trusted, timestamp, uptime, prefix)
CASES = [
    (MSG, MSG, None, True, None, None, "bare"),
    (f"Mar 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "Mar 27 10:11:12", None, "syslog"),
    (f"Jan  5 15:19:27 kernel: [ 5864.708440] {MSG}", MSG, None, True, "Jan  5 15:19:27", 5864.70844,
     "syslog"),
    (f"Mar 27 10:11:12 web1 kernel: [  123.456789] {MSG}", MSG, "web1", True, "Mar 27 10:11:12",
     123.456789, "syslog"),
    (f"May 17 19:54:29.123456 node7 kernel: {MSG}", MSG, "node7", True, "May 17 19:54:29.123456",
     None, "syslog"),
    # other locales' month names
    (f"Mär 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "Mär 27 10:11:12", None, "syslog"),
    (f"janv. 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "janv. 27 10:11:12", None, "syslog"),
    (f"3月 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "3月 27 10:11:12", None, "syslog"),
    # RFC 3339 (rsyslog), journal short-iso / short-iso-precise / short-full / short-unix
    (f"2024-05-17T19:54:29.123456+02:00 web1 kernel: {MSG}", MSG, "web1", True,
     "2024-05-17T19:54:29.123456+02:00", None, "iso"),
    (f"2024-05-17T19:54:29+0200 web1 kernel: {MSG}", MSG, "web1", True, "2024-05-17T19:54:29+0200",
     None, "iso"),
    (f"Fri 2024-05-17 19:54:29 CEST web1 kernel: {MSG}", MSG, "web1", True,
     "Fri 2024-05-17 19:54:29 CEST", None, "journal-full"),
    (f"1715968469.123456 web1 kernel: {MSG}", MSG, "web1", True, "1715968469.123456", None,
     "journal-unix"),
    (f"[  123.456789] web1 kernel: {MSG}", MSG, "web1", True, None, 123.456789, "dmesg"),
    # dmesg, dmesg -T, -x, -r, --time-format=iso, time-only, printk caller ids
    (f"[  123.456789] {MSG}", MSG, None, True, None, 123.456789, "dmesg"),
    (f"[4379596.347992] {MSG}", MSG, None, True, None, 4379596.347992, "dmesg"),
    (f"[Thu Mar 27 10:11:12 2013] {MSG}", MSG, None, True, "Thu Mar 27 10:11:12 2013", None,
     "dmesg-T"),
    (f"kern  :warn  : [  123.456789] {MSG}", MSG, None, True, None, 123.456789, "dmesg-x"),
    (f"<4>[  123.456789] {MSG}", MSG, None, True, None, 123.456789, "dmesg"),
    (f"2024-05-17T19:54:29,123456+02:00 {MSG}", MSG, None, True, "2024-05-17T19:54:29,123456+02:00",
     None, "iso"),
    (f"10:11:12 {MSG}", MSG, None, True, "10:11:12", None, "time"),
    (f"[10:11:12.123] {MSG}", MSG, None, True, "10:11:12.123", None, "time"),
    (f"[  123.456789][ T4321] {MSG}", MSG, None, True, None, 123.456789, "dmesg"),
    (f"<6>[ 7001.301240][ T4321] {MSG}", MSG, None, True, None, 7001.30124, "dmesg"),
    # /dev/kmsg and RFC 5424
    (f"4,1234,5678901,-;{MSG}", MSG, None, True, None, 5.678901, "kmsg"),
    (f"<4>1 2019-07-02T11:20:02.1+00:00 k8s-w3 kernel - - - {MSG}", MSG, "k8s-w3", True,
     "2019-07-02T11:20:02.1+00:00", None, "rfc5424"),
    # wrappers: markdown quotes (nested), pipes, indentation, colours, CRLF
    (f"> [  123.456789] {MSG}", MSG, None, True, None, 123.456789, "dmesg"),
    (f"> > Mar 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "Mar 27 10:11:12", None, "syslog"),
    (f"| [  123.456789] {MSG} |", MSG + " |", None, True, None, 123.456789, "dmesg"),
    (f"    Mar 27 10:11:12 web1 kernel: {MSG}", MSG, "web1", True, "Mar 27 10:11:12", None, "syslog"),
    (f"\x1b[31m[  123.456789] {MSG}\x1b[0m\r\n", MSG, None, True, None, 123.456789, "dmesg"),
]


@pytest.mark.parametrize("raw,text,host,trusted,ts,uptime,prefix", CASES)
def test_prefixes(raw, text, host, trusted, ts, uptime, prefix) -> None:
    [ll] = normalize_line(raw)
    assert (ll.text, ll.host, ll.trusted, ll.timestamp, ll.prefix) == (text, host, trusted, ts, prefix)
    assert ll.uptime == pytest.approx(uptime) if uptime is not None else ll.uptime is None


@pytest.mark.parametrize("raw", [
    f"Nov 12 12:29:23 alien kernel[19202]: {MSG}",           # logger --tag=kernel
    f"Nov 12 12:29:23 alien systemd[1]: {MSG}",
    f"Nov 12 12:29:23 alien myapp: {MSG}",
    f"2024-05-17T19:54:29+0200 web1 kernel[77]: {MSG}",
    f"2024-05-17T19:54:29+0200 web1 app: {MSG}",
    f"Fri 2024-05-17 19:54:29 CEST web1 python3[812]: {MSG}",
    f"<30>1 2019-07-02T11:20:02Z k8s-w3 kubelet 912 - - {MSG}",
    f"<4>1 2019-07-02T11:20:02Z k8s-w3 kernel 77 - - {MSG}",  # kernel with a procid: not printk
    f"user  :warn  : [  123.456789] {MSG}",                  # dmesg -x: written by userspace
    f"12,99,5678901,-;{MSG}",                                 # kmsg record with a user facility
    f"<12>{MSG}",
    f"Nov 12 12:29:23 alien two words: {MSG}",                # unparseable syslog header
])
def test_userspace_imitations_are_not_trusted(raw: str) -> None:
    assert all(not ll.trusted for ll in normalize_line(raw))


def test_journal_kernel_tag_after_iso_is_not_mistaken_for_kernel_text() -> None:
    # "oom_reaper:" looks like a syslog tag; after a dmesg --time-format=iso stamp it is text
    [ll] = normalize_line("2024-05-17T19:54:29,123456+02:00 oom_reaper: reaped process 1 (x), now "
                          "anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
    assert ll.trusted and ll.text.startswith("oom_reaper:")


def test_rsyslog_012_splits_records() -> None:
    lines = normalize_line("Jan 1 00:00:00 h kernel: active_anon:1 inactive_anon:2#012 active_file:3"
                           "#011x#012 free:4")
    assert [ll.text for ll in lines] == ["active_anon:1 inactive_anon:2", "active_file:3 x", "free:4"]
    assert {ll.host for ll in lines} == {"h"} and all("rsyslog-#012" in ll.wrappers for ll in lines)


def test_kmsg_escaped_newlines_split_and_dictionary_lines_dropped() -> None:
    n = Normalizer()
    lines = n.normalize("4,10,20,-;active_anon:1\\x0a active_file:2")
    assert [ll.text for ll in lines] == ["active_anon:1", "active_file:2"]
    assert n.normalize(" SUBSYSTEM=memory") == []


@pytest.mark.parametrize("raw", ["", "   ", "```", "```text", "~~~", "> ", "-- Boot 5f3a --",
                                 "-- Logs begin at Fri 2024-05-17 19:00:00 CEST. --",
                                 "-- No entries --"])
def test_meta_lines_are_dropped(raw: str) -> None:
    assert normalize_line(raw) == []


def test_continuation_lines_inherit_host_time_and_trust() -> None:
    n = Normalizer()
    [head] = n.normalize("May 17 19:54:29 ubuntu-vm kernel: anon 7688192")
    [cont] = n.normalize("                                  file 49152")
    assert cont == LogLine("file 49152", "ubuntu-vm", True, "May 17 19:54:29", None, "syslog", "",
                           True)
    assert not head.continuation
    n.normalize("Nov 12 12:29:23 alien kernel[19202]: Out of Memory: Killed process 1")
    [spoof_cont] = n.normalize("(init).")
    assert spoof_cont.continuation and not spoof_cont.trusted
    n.reset()
    assert not n.normalize("(init).")[0].continuation


def test_bare_files_have_no_continuations() -> None:
    n = Normalizer()
    n.normalize("Mem-Info:")
    [ll] = n.normalize(" active_file:35 inactive_file:69")
    assert not ll.continuation and ll.prefix == "bare" and ll.text.startswith("active_file")


def test_kernel_text_keeps_its_own_brackets() -> None:
    for raw, text in [("[ 8812.771370] [    1]     0     1      508       12   0       0 init",
                       "[    1]     0     1      508       12   0       0 init"),
                      ("[  55.0] [ pid ]   uid  tgid total_vm      rss nr_ptes swapents "
                       "oom_score_adj name", "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents "
                       "oom_score_adj name"),
                      (" [<ffffffff817199c4>] dump_stack+0x45/0x56",
                       "[<ffffffff817199c4>] dump_stack+0x45/0x56"),
                      ("[1833435]  1000 1833435   702110 Web Content",
                       "[1833435]  1000 1833435   702110 Web Content")]:
        assert normalize_line(raw)[0].text == text


def test_clock_seconds() -> None:
    assert clock_seconds("Mar 27 10:11:12") == 36672
    assert clock_seconds("2024-05-17T19:54:29,5+02:00") == 19 * 3600 + 54 * 60 + 29.5
    assert clock_seconds(None) is None and clock_seconds("no clock") is None
