"""Sources (files, compression by magic bytes, stdin, the host kernel log with its fallbacks),
the ``python -m oomlens.cli.oomreport_dump`` entry point, and the package contract (stdlib only,
frozen/slotted value types, JSON-ready events)."""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import json
import lzma
import os
import stat
import subprocess
import sys

import pytest
from oomreport_expect import DATA

import oomlens.oomreport as oomreport
from oomlens.errors import InputError
from oomlens.oomreport import iter_events, model
from oomlens.sources import kernellog as sources
from oomlens.sources.kernellog import iter_chunks, iter_file_events, iter_kernel_log_lines, open_binary

LOG = os.path.join(DATA, "corpus", "023-oomanalyser-ubuntu2110-sysrq.log")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def _bytes() -> bytes:
    with open(LOG, "rb") as f:
        return f.read()


@pytest.mark.parametrize("compress,name", [(gzip.compress, "plain-looking.log"),
                                           (bz2.compress, "x.txt"), (lzma.compress, "y"),
                                           (lambda b: b, "z.gz")])
def test_compression_is_detected_by_magic_not_by_name(tmp_path, compress, name) -> None:
    p = tmp_path / name
    p.write_bytes(compress(_bytes()))
    [ev] = iter_file_events(str(p))
    assert ev.victim_pid == 651 and ev.source == str(p)
    assert b"".join(iter_chunks(str(p), 1000)) == _bytes()


def test_undecodable_bytes_are_replaced(tmp_path) -> None:
    p = tmp_path / "bad.log"
    p.write_bytes(b"\xff\xfe garbage \x80\n" + _bytes().replace(b"unattended-upgr", b"unattended\xffupg"))
    [ev] = iter_file_events(str(p))
    assert ev.victim_name == "unattended\ufffdupg"


@pytest.mark.parametrize("make,msg", [
    (lambda p: str(p / "missing.log"), "no such file"),
    (lambda p: str(p), "is a directory"),
])
def test_unreadable_inputs_raise_input_error_with_a_hint(tmp_path, make, msg) -> None:
    with pytest.raises(InputError) as e:
        list(iter_file_events(make(tmp_path)))
    assert msg in str(e.value) and e.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without permission")
def test_permission_denied(tmp_path) -> None:
    p = tmp_path / "secret.log"
    p.write_bytes(b"x")
    p.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        list(iter_file_events(str(p)))


def test_truncated_gzip_raises_input_error(tmp_path) -> None:
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(_bytes() * 50)[:200])
    with pytest.raises(InputError) as e:
        list(iter_file_events(str(p)))
    assert "cannot read" in str(e.value) and "truncated" in e.value.hint


def test_stdin_and_cli(tmp_path) -> None:
    p = tmp_path / "in.gz"
    p.write_bytes(gzip.compress(_bytes()))
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "oomlens.cli.oomreport_dump", *a],
                                          capture_output=True, env=ENV, timeout=60, **kw)
    r = run("-", input=_bytes())
    assert r.returncode == 0 and r.stdout.decode().startswith("-:1-69 CONSTRAINT_NONE: killed 651")
    r = run("--count", str(p), LOG)
    assert r.returncode == 0 and r.stdout.decode().strip() == "2"
    r = run("--json", LOG)
    d = json.loads(r.stdout)
    assert d["victim_pid"] == 651 and d["table"]["variant"] == "4.19" and d["domain"] == "global"
    r = run(str(tmp_path / "nope"))
    assert r.returncode == 7 and b"no such file" in r.stderr and b"hint:" in r.stderr


def _fake(tmp_path, name: str, script: str) -> None:
    f = tmp_path / name
    f.write_text("#!/bin/sh\n" + script)
    f.chmod(f.stat().st_mode | stat.S_IEXEC)


def test_kernel_log_prefers_journalctl(tmp_path, monkeypatch) -> None:
    _fake(tmp_path, "journalctl", f'test "$*" = "-k -o short-precise --no-pager --since today" '
                                  f'|| exit 3\ncat "{LOG}"\n')
    _fake(tmp_path, "dmesg", "echo never\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    [ev] = iter_events(iter_kernel_log_lines("today"), "kernel-log")
    assert ev.victim_pid == 651


def test_kernel_log_falls_back_to_dmesg_then_kmsg(tmp_path, monkeypatch) -> None:
    _fake(tmp_path, "journalctl", 'echo "No journal files were found."\necho "-- No entries --"\n')
    _fake(tmp_path, "dmesg", f'cat "{LOG}"\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert [e.victim_pid for e in iter_events(iter_kernel_log_lines(), "k")] == [651]
    _fake(tmp_path, "dmesg", "echo 'dmesg: read kernel buffer failed: Operation not permitted' >&2\n"
                             "exit 1\n")
    monkeypatch.setattr(sources, "_read_kmsg", lambda: iter(["4,1,2,-;" + line for line in
                                                            _bytes().decode().splitlines()]))
    assert [e.victim_pid for e in iter_events(iter_kernel_log_lines(), "k")] == [651]

    def no_kmsg():
        raise PermissionError(13, "Permission denied")
        yield  # pragma: no cover

    monkeypatch.setattr(sources, "_read_kmsg", no_kmsg)
    with pytest.raises(InputError) as e:
        list(iter_kernel_log_lines())
    assert "dmesg: dmesg: read kernel buffer failed" in str(e.value) and e.value.hint


def test_open_binary_reads_stdin(monkeypatch) -> None:
    import io

    class In:
        buffer = io.BufferedReader(io.BytesIO(gzip.compress(b"hello\n")))

    monkeypatch.setattr(sys, "stdin", In)
    with open_binary("-") as f:
        assert f.read() == b"hello\n"


# --------------------------------------------------------------------------------------------
# contract

def test_exports() -> None:
    for name in oomreport.__all__:
        assert hasattr(oomreport, name), name
    assert oomreport.__all__ == sorted(oomreport.__all__)


@pytest.mark.parametrize("cls", [getattr(model, n) for n in model.__all__])
def test_value_types_are_frozen_slotted_dataclasses(cls) -> None:
    assert dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__
    assert cls.__dataclass_params__.frozen


def test_to_dict_is_json_ready_for_every_fixture() -> None:
    for sub in ("corpus", "synthetic"):
        d = os.path.join(DATA, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".log"):
                for ev in iter_file_events(os.path.join(d, name)):
                    back = json.loads(json.dumps(ev.to_dict()))
                    assert back["victim_pid"] == ev.victim_pid and back["domain"] == ev.domain
                    assert back["start_line"] == ev.start_line


def test_kernel_log_since_reaches_dmesg_and_is_never_ignored(tmp_path, monkeypatch) -> None:
    # no journal: dmesg gets --since too; an empty answer is "nothing in range", not an error
    _fake(tmp_path, "journalctl", 'echo "No journal files were found."\n')
    _fake(tmp_path, "dmesg", f'test "$*" = "--since today" || exit 3\ncat "{LOG}"\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert [e.victim_pid for e in iter_events(iter_kernel_log_lines("today"), "k")] == [651]
    _fake(tmp_path, "dmesg", 'test "$*" = "--since tomorrow" || exit 3\n')
    assert list(iter_kernel_log_lines("tomorrow")) == []
    # an empty journal (journald keeping no kernel messages) still falls back to dmesg
    _fake(tmp_path, "journalctl", 'echo "-- No entries --"\n')
    _fake(tmp_path, "dmesg", f'cat "{LOG}"\n')
    assert [e.victim_pid for e in iter_events(iter_kernel_log_lines(), "k")] == [651]
    # only /dev/kmsg left: it cannot filter by time, so --since is refused, not silently dropped
    _fake(tmp_path, "dmesg", "exit 1\n")
    monkeypatch.setattr(sources, "_read_kmsg", lambda: iter(["4,1,2,-;x"]))
    with pytest.raises(InputError) as e:
        list(iter_kernel_log_lines("today"))
    assert "--since" in str(e.value) and e.value.hint
