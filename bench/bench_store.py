"""Import times into SQLite and PostgreSQL: a 96-well export (target < 0.2 s) and a 10,000-patient table (target < 5 s).

PostgreSQL: TDM1_BENCH_POSTGRES_URL, else a throw-away server started like the tests do (skipped if none can start).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import os  # noqa: E402

import pandas as pd  # noqa: E402

from bench_ddpcr import plate  # noqa: E402
from tdm1core.demo import DEMO_DIR  # noqa: E402
from tdm1core.settings import DEFAULT_SETTINGS  # noqa: E402
from tdm1core.storage.store import Store  # noqa: E402
from tdm1core.app.workflows import import_exports, import_patients  # noqa: E402


def bench_postgres(prefix: str = "tdm1pgbench-"):
    """(url, stop) of the PostgreSQL server to benchmark: TDM1_BENCH_POSTGRES_URL, else a throw-away server started as
    the tests do; (None, None) with the reason printed when none can start."""
    url = os.environ.get("TDM1_BENCH_POSTGRES_URL")
    if url:
        return url, None
    from conftest import _start_postgres

    url, stop = _start_postgres(Path(tempfile.mkdtemp(prefix=prefix)))
    if stop is None:
        print(f"PostgreSQL skipped: {url}")
        return None, None
    return url, stop


def patients(n: int) -> bytes:
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    rows = demo.sample(n, replace=True, random_state=1).reset_index(drop=True)
    rows["patient_id"] = [f"S{i:06d}" for i in range(n)]
    rows["ctdna_sample_id"] = ""
    return rows.to_csv(index=False).encode()


def run(label: str, url: str) -> None:
    store = Store(url)
    data = plate()
    t0 = time.perf_counter()
    import_exports(store, [(data, "plate.csv")], DEFAULT_SETTINGS)
    t_plate = time.perf_counter() - t0
    table = patients(10_000)
    t0 = time.perf_counter()
    import_patients(store, table, "patients.csv", DEFAULT_SETTINGS)
    t_pat = time.perf_counter() - t0
    print(f"{label:<12}{'96-well export':<28}{t_plate:>10.3f}{0.2:>8}")
    print(f"{label:<12}{'10,000-patient table':<28}{t_pat:>10.3f}{5:>8}")
    store.engine.dispose()


def main() -> None:
    print(f"{'database':<12}{'import':<28}{'seconds':>10}{'target':>8}")
    tmp = Path(tempfile.mkdtemp())
    run("SQLite", f"sqlite:///{tmp / 'bench.sqlite'}")
    url, stop = bench_postgres()
    if url:
        try:
            run("PostgreSQL", url)
        finally:
            if stop:
                stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
