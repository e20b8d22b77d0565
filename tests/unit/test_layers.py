"""The layers are visible in the tree and kept: the pure packages (``kernel``, ``oomreport``,
``analysis``) import nothing from ``sources``, ``cli``, ``selftest`` or ``daemon``, and nothing outside
the standard library; ``sources`` never imports the layers above it.

Checked statically over every ``import`` statement (including imports inside functions), so a lazy
import cannot slip past, and once dynamically: importing the pure packages loads no third-party module.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "oomlens"
PURE = ("kernel", "oomreport", "analysis", "policy")
# what each layer may import from oomlens (besides itself and oomlens.errors)
ALLOWED = {
    "kernel": set(),
    "oomreport": {"kernel"},
    "analysis": {"kernel", "oomreport"},
    "sources": {"kernel", "oomreport"},
    "policy": {"kernel", "analysis"},
    "daemon": {"kernel", "oomreport", "analysis", "sources", "policy"},
    "report": {"kernel", "oomreport", "analysis"},  # HTML pages: may use third-party (jinja2, plotly), not cli/sources
}
STDLIB = set(sys.stdlib_module_names)


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            if node.module == "oomlens":  # from oomlens import x
                out += [(node.lineno, f"oomlens.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            out.append((node.lineno, "." * node.level + (node.module or "")))
    return out


def _violations(layer: str) -> list[str]:
    bad = []
    for f in sorted((SRC / layer).rglob("*.py")):
        for line, mod in _imports(f):
            where = f"{f.relative_to(SRC.parent)}:{line} imports {mod}"
            if mod.startswith("."):
                continue  # relative: inside the package
            top = mod.split(".")[0]
            if top != "oomlens":
                if layer in PURE and top not in STDLIB and top != "__future__":
                    bad.append(where + " (not the standard library)")
                continue
            parts = mod.split(".")
            if len(parts) == 1 or parts[1] in (layer, "errors"):
                continue
            if parts[1] not in ALLOWED[layer]:
                bad.append(where)
    return bad


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    assert (SRC / layer / "__init__.py").exists(), f"layer {layer} is not a package"
    assert _violations(layer) == []


def test_checker_catches_a_violation(tmp_path: pathlib.Path) -> None:
    # the static check must be able to fail: a lazy import of sources inside a function
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from oomlens.sources.procfs import ProcFS\n    import click\n")
    mods = [m for _, m in _imports(f)]
    assert mods == ["oomlens.sources.procfs", "click"]


def test_pure_packages_load_no_third_party_module() -> None:
    code = ("import sys\n"
            "import oomlens.kernel.oom_kill, oomlens.kernel.snapshot, oomlens.oomreport, "
            "oomlens.analysis.ranking, oomlens.analysis.postmortem, oomlens.policy.engine\n"
            "bad = sorted(m for m, mod in list(sys.modules.items())\n"
            "             if getattr(mod, '__file__', None) and 'site-packages' in mod.__file__)\n"
            "leak = sorted(m for m in sys.modules if m.startswith(('oomlens.sources', 'oomlens.cli')))\n"
            "print(bad, leak)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(SRC.parent)}, check=True)
    assert out.stdout.strip() == "[] []"
