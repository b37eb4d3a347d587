"""House rules of DESIGN.md that code review alone would miss."""

import ast
from pathlib import Path

from .conftest import ROOT

PKG = ROOT / "simulator"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            first = node.module.split(".")[0]
            out.add(first if node.level == 0 else f"simulator.{first}")
    return out


def modules():
    return sorted(PKG.rglob("*.py"))


def test_only_kernels_import_numba():
    offenders = [p for p in modules() if "numba" in imports(p) and p.parent.name != "kernels"]
    assert not offenders


def test_spec_and_policies_stay_free_of_engine_dependencies():
    for p in (PKG / "spec").glob("*.py"):
        assert not imports(p) & {"simpy", "numba", "networkx"}, p
    for p in (PKG / "policies").glob("*.py"):
        assert not imports(p) & {"simpy", "numba", "simulator.engine"}, p
    for p in (PKG / "model").glob("*.py"):
        assert not imports(p) & {"simpy", "numba", "simulator.engine"}, p
    assert "simulator.engine" not in imports(PKG / "plotting.py")


def test_no_print_in_library_and_module_docstrings_everywhere():
    for p in modules():
        tree = ast.parse(p.read_text())
        if p.name not in ("cli.py", "cli_perf.py", "cli_trace.py"):  # the command line prints
            calls = [
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"
            ]
            assert not calls, p
        assert ast.get_docstring(tree), f"{p} has no module docstring"


def test_modules_stay_small():
    data_tables = {"catalog.py"}  # one cited datasheet entry per chip: data, not logic
    for p in modules():
        if p.name not in data_tables:
            assert len(p.read_text().splitlines()) <= 400, p
