"""The public surface: __all__ matches what the package exports, and the core needs no third-party package."""

from __future__ import annotations

import subprocess
import sys

import oomlens
import oomlens.oomreport


def test_all_names_are_exported_and_sorted():
    for mod in (oomlens, oomlens.oomreport):
        assert list(mod.__all__) == sorted(mod.__all__)
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{mod.__name__}.__all__ names missing attributes: {missing}"


CORE = ["oomlens", "oomlens.kernel.types", "oomlens.errors", "oomlens.kernel.eras", "oomlens.kernel.oom_kill",
        "oomlens.kernel.snapshot", "oomlens.analysis.ranking", "oomlens.analysis.postmortem", "oomlens.oomreport",
        "oomlens.sources.procfs", "oomlens.sources.cgroupfs", "oomlens.sources.live", "oomlens.sources.kernellog",
        "oomlens.selftest.harness"]


def test_core_imports_without_third_party_packages():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'click', 'rich', 'prometheus_client'}:\n"
        "            raise ImportError('blocked third-party import: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {CORE!r}:\n"
        "    __import__(m)\n"
        "import oomlens\n"
        "[getattr(oomlens, n) for n in oomlens.__all__]\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    # and the blocker really blocks: the CLI module needs click
    out = subprocess.run([sys.executable, "-c", blocker.replace(f"{CORE!r}", "['oomlens.cli.main']")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "blocked third-party import: click" in out.stderr
