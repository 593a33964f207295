"""Built-in SYNTHETIC demo data (not patient data), generated to match the study's published values."""
from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["DEMO_DIR", "demo_export_path", "demo_files", "write_demo", "demo_series_paths"]

DEMO_DIR = Path(__file__).with_name("data")
EXPORT_NAME = "demo_ddpcr_quantasoft.csv"
PATIENTS_NAME = "demo_patients.csv"


def demo_export_path() -> Path:
    return DEMO_DIR / EXPORT_NAME


SERIES_NAMES = ("demo_series_samples.csv", "demo_series_ddpcr.csv", "demo_series_events.csv")


def demo_series_paths() -> tuple[Path, Path, Path]:
    """The SYNTHETIC serial-monitoring demo: (sample table, ddPCR export, events table)."""
    return tuple(DEMO_DIR / n for n in SERIES_NAMES)  # type: ignore[return-value]


def demo_files() -> list[Path]:
    return [p for p in (DEMO_DIR / EXPORT_NAME, DEMO_DIR / PATIENTS_NAME, *demo_series_paths()) if p.exists()]


def write_demo(directory: str | Path) -> list[Path]:
    """Copy the demo files into ``directory``; return their paths."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for src in demo_files():
        dst = target / src.name
        shutil.copyfile(src, dst)
        out.append(dst)
    return out
