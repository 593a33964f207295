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
