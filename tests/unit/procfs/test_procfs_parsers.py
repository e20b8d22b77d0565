"""Pure parsers of /proc files: keyed by field name, hostile comm values, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from proc_builders import FakeTask, escape_name, stat_bytes, status_bytes

from oomlens.errors import ProcParseError
from oomlens.sources.procfs import (
    PidCgroups,
    parse_cgroup,
    parse_meminfo,
    parse_stat,
    parse_status,
    parse_zoneinfo,
)

HOSTILE = ["a) Z b", "x\ny", "", "((()))", ") S 1 2 3", "tab\there", "back\\slash", "  spaces  ", "\\n literal"]


@pytest.mark.parametrize("comm", HOSTILE)
def test_parse_stat_comm_up_to_last_paren(comm: str) -> None:
    t = FakeTask(pid=42, name=comm, ppid=7, flags=0x00200040, starttime=12345, nice=-5, threads=3)
    got = parse_stat(stat_bytes(t))
    assert got["comm"] == comm
    assert got["pid"] == 42
    assert got["state"] == "S"
    assert got["ppid"] == 7
    assert got["flags"] == 0x00200040
    assert got["nice"] == -5
    assert got["num_threads"] == 3
    assert got["starttime"] == 12345


def test_parse_stat_real_line() -> None:
    line = (b"3884 (cat) R 3878 3878 2386 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 21870 3133440 393 "
            b"18446744073709551615 94135290740736 94135290760617 140734556378832 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
            b"94135290776624 94135290778240 94135667650560 140734556379670 140734556379690 140734556379690 "
            b"140734556381163 0\n")
    got = parse_stat(line)
    assert got["comm"] == "cat" and got["starttime"] == 21870 and got["vsize"] == 3133440 and got["rss"] == 393
    assert got["exit_code"] == 0


def test_parse_stat_undecodable_comm() -> None:
    got = parse_stat(stat_bytes(FakeTask(pid=5, comm=b"\xffab")))
    assert got["comm"] == "\\xffab"


@pytest.mark.parametrize("bad", [b"", b"42 noparens S 1", b"42 (x) S 1 2 3", b"42 (x) S one 2 3 4 5 6 7 8 9 10 11 12 "
                                 b"13 14 15 16 17 18 19 20 21 22"])
def test_parse_stat_malformed(bad: bytes) -> None:
    with pytest.raises(ProcParseError):
        parse_stat(bad, "/proc/42/stat")


@pytest.mark.parametrize("name", HOSTILE + ["\\", "a\\nb", "é名"])
def test_parse_status_name_unescaped_exactly(name: str) -> None:
    data = status_bytes(FakeTask(pid=9, name=name))
    assert parse_status(data)["Name"] == name
    assert parse_status(data, ("State",))["Name"] == name


@given(st.binary(max_size=15).filter(lambda b: b"\0" not in b))
def test_parse_status_name_roundtrip_any_bytes(raw: bytes) -> None:
    data = b"Name:\t" + escape_name(raw) + b"\nState:\tS (sleeping)\n"
    assert parse_status(data)["Name"] == raw.decode("utf-8", "backslashreplace")


def test_parse_status_all_and_selected_keys() -> None:
    data = status_bytes(FakeTask(pid=9, uid=1001, rss_anon_kb=512, swap_kb=64))
    full = parse_status(data)
    assert full["Uid"] == "1001\t1001\t1001\t1001"
    assert full["RssAnon"] == "512 kB"
    assert full["VmSwap"] == "64 kB"
    some = parse_status(data, ("VmSwap", "PPid", "NotThere"))
    assert some == {"Name": "task", "VmSwap": "64 kB", "PPid": "1"}


def test_parse_status_rejects_non_status() -> None:
    with pytest.raises(ProcParseError):
        parse_status(b"State:\tS\n", path="/proc/1/status")


def test_parse_meminfo() -> None:
    got = parse_meminfo(b"MemTotal:       24684092 kB\nSwapTotal:  0 kB\nHugePages_Total:       3\n")
    assert got == {"MemTotal": 24684092, "SwapTotal": 0, "HugePages_Total": 3}
    with pytest.raises(ProcParseError):
        parse_meminfo(b"MemTotal: lots\n")


def test_parse_zoneinfo_sums_present_per_node() -> None:
    from proc_builders import ZONEINFO

    assert parse_zoneinfo(ZONEINFO.encode()) == {0: 3998 + 782336, 1: 5505024}


def test_parse_cgroup_v1_and_v2() -> None:
    data = (b"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/a96d\n3:cpuset:/\n1:cpu,cpuacct:/x\n0::/\n")
    assert parse_cgroup(data) == PidCgroups(v1_memory="/process_api/a96d", v2="/")
    assert parse_cgroup(data).memcg == "/process_api/a96d"
    v2only = parse_cgroup(b"0::/system.slice/x:y.service\n")
    assert v2only == PidCgroups(None, "/system.slice/x:y.service") and v2only.memcg == "/system.slice/x:y.service"
    assert parse_cgroup(b"5:cpu,memory:/both\n").v1_memory == "/both"
    with pytest.raises(ProcParseError):
        parse_cgroup(b"garbage\n")
