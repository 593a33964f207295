"""The documentation is short where it must be and true: the README's two set-up commands, links that resolve, and
no module named that does not exist."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_short_and_has_the_two_set_up_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 80
    commands = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    assert commands == ["pip install -r requirements.txt -c constraints.txt && streamlit run app.py",
                        "pip install -r requirements.txt -c constraints.txt && python -m pytest"]


def test_every_relative_link_resolves():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert broken == []


def _missing_modules(text: str) -> list[str]:
    missing = []
    for dotted in set(re.findall(r"\btdm1core(?:\.[a-z_]+)+", text)):
        parts = dotted.split(".")
        for n in range(len(parts), 1, -1):  # the longest prefix that is a module or a package
            path = ROOT.joinpath(*parts[:n])
            if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
                break
        else:
            missing.append(dotted)
    for slashed in set(re.findall(r"\btdm1core/[\w/]+\.py\b", text)):
        if not (ROOT / slashed).exists():
            missing.append(slashed)
    return missing


def test_every_module_the_docs_name_exists():
    assert {str(d.relative_to(ROOT)): m for d in DOCS if (m := _missing_modules(d.read_text()))} == {}


def test_the_module_check_can_fail():
    assert _missing_modules("see tdm1core.ddpcr and tdm1core/store.py") == ["tdm1core.ddpcr", "tdm1core/store.py"]
