"""The public API: what tdm1core exports exists and is public, and the pages import nothing private from the core."""
import ast
from pathlib import Path

import tdm1core

ROOT = Path(__file__).resolve().parents[1]


def test_exported_members_exist_and_are_public():
    for name in tdm1core.__all__:
        assert hasattr(tdm1core, name), name
        assert name == "__version__" or not name.startswith("_"), name
    assert len(set(tdm1core.__all__)) == len(tdm1core.__all__)


def test_pages_and_app_import_nothing_private_from_the_core():
    offenders = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tdm1core"):
                if any(part.startswith("_") for part in node.module.split(".")):
                    offenders.append(f"{path.name}: {node.module}")
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert offenders == []


def test_the_core_never_imports_streamlit():
    for path in (ROOT / "tdm1core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


def _outside_the_api(paths):
    """``from tdm1core... import name`` lines whose name is not in that module's __all__."""
    import importlib

    offenders = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if node.level:  # the command line's relative imports, inside tdm1core
                module = "tdm1core" + ("." + module if module else "")
            if not module.startswith("tdm1core"):
                continue
            public = set(getattr(importlib.import_module(module), "__all__", ()))
            offenders += [f"{path.name}: from {module} import {a.name}" for a in node.names
                          if a.name not in public and a.name != "__version__"]
    return offenders


def test_what_pages_and_the_cli_import_from_the_core_is_in_its_public_api():
    """Every name app.py, a page or the command line takes from a core module is listed in that module's __all__
    (or, for the package itself, in tdm1core.__all__): the public API is what the product really uses."""
    sources = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), ROOT / "tdm1core" / "app" / "cli.py"]
    assert _outside_the_api(sources) == []


def test_the_api_check_can_fail(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("from tdm1core.storage.store import _clean, Store\nfrom tdm1core.app.workflows import cohort_view\n")
    assert _outside_the_api([page]) == ["page.py: from tdm1core.storage.store import _clean"]


def test_the_declared_dependencies_are_exactly_what_the_core_imports():
    """pyproject.toml's dependencies equal the third-party packages tdm1core imports (both ways), by import name."""
    import ast
    import re
    import sys
    import tomllib

    root = Path(__file__).resolve().parents[1]
    imported = set()
    for f in (root / "tdm1core").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "tdm1core"}
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower().replace("-", "_") for d in declared}
    assert names == third_party, (sorted(names - third_party), sorted(third_party - names))


def test_the_page_modules_import_each_other_in_one_direction_only():
    """No import circle among the page modules (issue 24): a graph of who imports whom in pages/ has no cycle."""
    import ast

    root = Path(__file__).resolve().parents[1] / "pages"
    graph: dict[str, set[str]] = {}
    for f in root.glob("*.py"):
        edges = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pages."):
                edges.add(node.module.split(".", 1)[1])
        graph[f.stem] = edges

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == [], circles


# The core's layers, lowest first: a module imports only from its own layer or the ones below (the folder reads as the
# design: reading exports, measuring, calling, the clinical flag, statistics, figures, reports, storage, use cases).
LAYERS = ("", "measuring", "reading", "calling", "clinical", "stats", "fhir", "plotting", "reporting", "storage", "demo", "app")


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""


def _upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "tdm1core").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        if module in ("tdm1core", "tdm1core.__main__"):  # the facade (lazy re-exports) and the entry point
            continue
        here = LAYERS.index(_layer_of(module))
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("tdm1core.") and LAYERS.index(_layer_of(name)) > here:
                    found.append(f"{module} imports {name}")
    return found


def test_each_layer_imports_only_from_the_layers_below_it():
    assert _upward_imports(ROOT) == []


def test_the_layer_check_can_fail(tmp_path):
    (tmp_path / "tdm1core" / "reading").mkdir(parents=True)
    (tmp_path / "tdm1core" / "reading" / "x.py").write_text("from tdm1core.app.workflows import assess_upload\n")
    assert _upward_imports(tmp_path) == ["tdm1core.reading.x imports tdm1core.app.workflows"]


def test_the_core_uses_absolute_imports_only():
    """One spelling of each module's name (grep finds every use of it)."""
    relative = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in sorted((ROOT / "tdm1core").rglob("*.py"))
                for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == []


def _core_imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("tdm1core"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("tdm1core")}
    return out


def _not_a_use_case(modules: set[str]) -> set[str]:
    allowed = {"tdm1core.settings", "tdm1core.errors"}
    return {m for m in modules if m not in allowed and not (m.startswith("tdm1core.app.") and m != "tdm1core.app.cli")}


def test_the_command_line_imports_nothing_from_the_core_but_the_use_cases_settings_and_errors():
    """The command line parses arguments, calls one use case and prints: it reads, calls and stores nothing itself."""
    assert _not_a_use_case(_core_imports_of(ROOT / "tdm1core" / "app" / "cli.py")) == set()


def test_the_command_line_check_can_fail(tmp_path):
    cli = tmp_path / "cli.py"
    cli.write_text("from tdm1core.storage.store import Store\nfrom tdm1core.app.workflows import open_store\n"
                   "import tdm1core.reading.exports\n")
    assert _not_a_use_case(_core_imports_of(cli)) == {"tdm1core.storage.store", "tdm1core.reading.exports"}


# ---------------------------------------------------------------- short functions (issue 24)

def _long_functions(root: Path, limit: int = 80) -> list[str]:
    out = []
    for path in sorted((root / "tdm1core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit:
                out.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    return out


def test_no_function_in_the_core_is_over_80_lines():
    assert _long_functions(ROOT) == []


def test_the_length_check_can_fail(tmp_path):
    (tmp_path / "tdm1core").mkdir()
    (tmp_path / "tdm1core" / "x.py").write_text("def f():\n" + "    x = 1\n" * 81)
    assert _long_functions(tmp_path) == ["tdm1core/x.py:1 f (82 lines)"]


def test_no_function_in_the_core_is_graded_e_or_f_for_complexity():
    import pytest

    radon = pytest.importorskip("radon.complexity", reason="radon is not installed (pip install -r requirements.txt)")
    worst = [f"{p.relative_to(ROOT)}:{b.lineno} {b.name} ({radon.cc_rank(b.complexity)} {b.complexity})"
             for p in sorted((ROOT / "tdm1core").rglob("*.py")) for b in radon.cc_visit(p.read_text())
             if radon.cc_rank(b.complexity) in ("E", "F")]
    assert worst == []


def _long_pages(root, limit: int = 125) -> list[str]:
    """Page scripts (pages/*.py not starting with _) over ``limit`` lines: a page reads top to bottom as the screen,
    its sections in pages/_*.py, its work in the use cases."""
    return [f"{p.name} ({n} lines)" for p in sorted((root / "pages").glob("[!_]*.py"))
            if (n := len(p.read_text().splitlines())) > limit]


def test_no_page_script_is_over_about_120_lines():
    assert _long_pages(ROOT) == []


def test_the_page_length_check_can_fail(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "big.py").write_text("x = 1\n" * 126)
    (tmp_path / "pages" / "_section.py").write_text("x = 1\n" * 300)
    assert _long_pages(tmp_path) == ["big.py (126 lines)"]


def test_pages_import_no_reader_or_statistics_function_directly():
    """Pages call use cases (tdm1core.app.*) for work; from the rest of the core they take only display helpers,
    constants and types, never a reader, a caller or a statistics function (the Patient page computed KM itself)."""
    work = {"read_export", "read_plate", "classify_plate", "call_export", "km_by", "analyse_cohort", "fhir_bundle",
            "released_json", "validate", "mapped_targets", "assess_upload"}
    found = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tdm1core") \
                    and not node.module.startswith("tdm1core.app"):
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name in work]
    assert found == []
