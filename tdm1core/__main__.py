"""Command line: ``python -m tdm1core --help``."""
from __future__ import annotations

import sys

from tdm1core.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
