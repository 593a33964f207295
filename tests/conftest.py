import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED_DDPCR = ROOT.parent / "shared" / "data" / "ddpcr"


@pytest.fixture
def shared_ddpcr() -> Path:
    if not SHARED_DDPCR.is_dir():
        pytest.skip(f"the real exports folder {SHARED_DDPCR} is absent (it sits beside the repository in the workplace)")
    return SHARED_DDPCR
