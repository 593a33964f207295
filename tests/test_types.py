"""The core's type hints are checked by mypy (style guide: type hints throughout the core, checked by mypy)."""
import subprocess
import sys

import pytest

from conftest import ROOT


def test_core_type_checks():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -r requirements.txt)")
    p = subprocess.run([sys.executable, "-m", "mypy", "tdm1core"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:]
