"""Host side of the VM kernel oracle: boot a cached kernel under qemu (TCG) with virtme-ng and run
:mod:`tests.vm.guest` inside it; the guest writes its results as JSON into a shared ``--rwdir``.

``python -m tests.vm.harness [--kernel SERIES ...] [--only NAME ...] [--out DIR]`` boots each kernel
(in parallel), prints a one-line summary per scenario and leaves ``results-<release>.json`` and
``console-<release>.log`` in DIR. Set-up: ``scripts/install-test-deps.sh`` (it writes the kernel list
read here, ``$OOMLENS_VM_CACHE/kernels.tsv``).

The guest sees this machine's root file system read-only (so the repo, its .venv and the host's
python), runs as root with every capability, cgroup v2 with the memory controller, 1 GiB of RAM
and 2 vCPUs. Nested KVM is unusable here, so qemu runs in TCG (``--disable-kvm``); vng is given
``/dev/null`` as stdin (it fails when stdin is closed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("OOMLENS_VM_CACHE", "/opt/oomlens-vm"))
#: One guest runs every scenario of tests.vm.guest; the whole boot must finish within this.
BOOT_TIMEOUT_S = float(os.environ.get("OOMLENS_VM_TIMEOUT", "900"))
GUEST_MEMORY = "1G"
GUEST_CPUS = 2


@dataclass(frozen=True)
class Kernel:
    series: str          # "6.1"
    release: str         # "6.1.0-57-amd64" (uname -r in the guest)
    vmlinuz: Path
    package: str


def kernels(cache: Path = CACHE) -> list[Kernel]:
    """The kernels scripts/install-test-deps.sh prepared (empty when it has not run)."""
    try:
        text = (cache / "kernels.tsv").read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            out.append(Kernel(parts[0], parts[1], Path(parts[2]), parts[3]))
    return out


def _vng() -> Path:
    return Path(sys.executable).parent / "vng"


def unavailable_reason(kernel: Kernel | None = None) -> str | None:
    """Why guests cannot be booted here (None when they can)."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return "VM oracle needs an x86_64 Linux host"
    if os.geteuid() != 0:
        return "VM oracle needs root (the guest shares this root file system; modules in /lib/modules)"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 not installed (run scripts/install-test-deps.sh)"
    if not _vng().exists():
        return f"virtme-ng not installed in {Path(sys.executable).parent} (run scripts/install-test-deps.sh)"
    if shutil.which("busybox") is None:
        return "busybox not installed (virtme-ng's initramfs needs it; run scripts/install-test-deps.sh)"
    found = kernels()
    if not found:
        return f"no kernels in {CACHE}/kernels.tsv (run scripts/install-test-deps.sh)"
    for k in [kernel] if kernel else found:
        if not k.vmlinuz.is_file():
            return f"{k.vmlinuz} missing (run scripts/install-test-deps.sh)"
        if not (k.vmlinuz.parents[1] / "lib" / "modules" / k.release / "modules.dep").is_file():
            return f"modules of {k.release} missing beside {k.vmlinuz} (run scripts/install-test-deps.sh)"
    return None


class GuestRun:
    """One booted guest running tests.vm.guest; :meth:`wait` returns its results (JSON) or raises."""

    def __init__(self, kernel: Kernel, workdir: Path, only: list[str] | None = None,
                 timeout: float = BOOT_TIMEOUT_S) -> None:
        self.kernel = kernel
        self.rwdir = workdir / f"rw-{kernel.release}"
        self.rwdir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.rwdir / "results.json"
        self.console_path = workdir / f"console-{kernel.release}.log"
        self.timeout = timeout
        guest_cmd = (f"cd {REPO} && PYTHONPATH={REPO}/src:{REPO} exec {sys.executable} -m tests.vm.guest "
                     f"--out {self.results_path}" + (" --only " + " ".join(only) if only else ""))
        cmd = [str(_vng()), "-r", str(kernel.vmlinuz), "--disable-kvm", "--memory", GUEST_MEMORY,
               "--cpus", str(GUEST_CPUS), f"--rwdir={self.rwdir}", "--exec", guest_cmd]
        env = dict(os.environ, PATH=f"{_vng().parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        self.started = time.monotonic()
        self._console = open(self.console_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._console, stderr=subprocess.STDOUT,
                                     env=env, cwd=REPO, start_new_session=True)
        self.elapsed: float | None = None
        self._result: dict[str, Any] | None = None

    def wait(self) -> dict[str, Any]:
        if self._result is not None:
            return self._result
        try:
            self.proc.wait(max(1.0, self.started + self.timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        finally:
            self._console.close()
        self.elapsed = time.monotonic() - self.started
        try:
            data: dict[str, Any] = json.loads(self.results_path.read_text())
        except (OSError, ValueError) as e:
            tail = self.console_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"guest {self.kernel.release} wrote no results ({e}); vng exit "
                               f"{self.proc.returncode}; console tail:\n{tail}") from None
        data["boot_elapsed"] = round(self.elapsed, 1)
        data["vng_rc"] = self.proc.returncode
        self._result = data
        return data

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


def summarize(data: dict[str, Any]) -> list[str]:
    """One line per scenario: designed victim, predicted, kernel's, postmortem verdicts."""
    lines = []
    for name, c in data.get("cases", {}).items():
        if "error" in c:
            lines.append(f"{name}: ERROR {c['error'].strip().splitlines()[-1]}")
            continue
        pids = c.get("pids", {})
        who = {v: k for k, v in pids.items()}
        pred = (c.get("top", {}).get("victim") or {}).get("pid")
        kern = c.get("kernel_victim_pid")
        verdicts = [e.get("verdict") for e in c.get("postmortem", {}).get("events", [])]
        lines.append(f"{name}: designed {c['expected']}, predicted {who.get(pred, pred)}, kernel "
                     f"{who.get(kern, kern)}, T {c.get('top', {}).get('domain', {}).get('totalpages')} "
                     f"(expected {c.get('expected_totalpages')}), postmortem {verdicts} ({c.get('elapsed')} s)")
    st = data.get("selftest")
    if st:
        lines.append(f"selftest: rc {st.get('rc')}, hierarchy {st.get('json', {}).get('hierarchy')}, "
                     f"agrees {st.get('json', {}).get('agrees')} ({st.get('elapsed')} s)")
    ek = data.get("early_kill")
    if ek:
        if "error" in ek:
            lines.append(f"global-early-kill: ERROR {ek['error'].strip().splitlines()[-1]}")
        else:
            who = {v: k for k, v in ek.get("pids", {}).items()}
            alert = ek.get("early_kill") or {}
            lines.append(f"global-early-kill: designed {ek.get('expected')}, daemon killed "
                         f"{who.get(alert.get('pid'), alert.get('pid'))} ({alert.get('verdict')}), died {ek.get('died')}, "
                         f"kernel kills {ek.get('killed_pids')} ({ek.get('elapsed')} s)")
    wl = data.get("whole_log", {})
    lines.append(f"whole log: {[e.get('verdict') for e in wl.get('events', [])]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Boot Debian kernels under qemu and run the oomlens VM oracle.")
    ap.add_argument("--kernel", action="append", help="series (6.1, 6.12) or release; default: all cached")
    ap.add_argument("--only", nargs="*", help="scenario names (and/or 'selftest')")
    ap.add_argument("--out", help="directory for results and consoles (default: a new temporary one)")
    opts = ap.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    chosen = [k for k in kernels() if not opts.kernel or k.series in opts.kernel or k.release in opts.kernel]
    out = Path(opts.out or tempfile.mkdtemp(prefix="oomlens-vm-"))
    runs = [GuestRun(k, out, opts.only) for k in chosen]
    ok = True
    for run in runs:
        try:
            data = run.wait()
        except RuntimeError as e:
            print(e, file=sys.stderr)
            ok = False
            continue
        print(f"== {run.kernel.release}: {data.get('elapsed')} s in the guest, {data['boot_elapsed']} s in all")
        for line in summarize(data):
            print("  " + line)
    print(f"results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
