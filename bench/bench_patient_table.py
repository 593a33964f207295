"""Read and validate a large honest patient table (CSV): 10,000 and 100,000 rows; targets < 10 s and < 500 MB peak
for 100,000 rows. Also: how fast an absurd shape (10,000 columns) is refused (target < 1 s).

Machine: the workplace's 2-core container. Peak memory is this process's maximum resident set (ru_maxrss) after each
step, so it only grows; run the largest case last.
"""
from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from tdm1core.stats.cohort import read_patient_table, validate_patients  # noqa: E402
from tdm1core.demo import DEMO_DIR  # noqa: E402
from tdm1core.errors import CohortFormatError  # noqa: E402


def table(n: int) -> bytes:
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    rows = demo.sample(n, replace=True, random_state=1).reset_index(drop=True)
    rows["patient_id"] = [f"R{i:06d}" for i in range(n)]
    return rows.to_csv(index=False).encode()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    print(f"{'work':<58}{'seconds':>9}{'per 1k rows':>12}{'peak MB':>9}{'target':>14}")
    wide = (",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" for _ in range(10_000)) + "\n").encode()
    t0 = time.perf_counter()
    try:
        read_patient_table(wide, "wide.csv")
    except CohortFormatError:
        pass
    print(f"{'refuse a 10,000-column table':<58}{time.perf_counter() - t0:>9.3f}{'':>12}{peak_mb():>9.0f}{'< 1 s':>14}")
    for n in (10_000, 100_000):
        data = table(n)
        t0 = time.perf_counter()
        validate_patients(read_patient_table(data, "big.csv"), "big.csv")
        dt = time.perf_counter() - t0
        print(f"{f'read + validate {n:,} patients ({len(data) / 1e6:.1f} MB CSV)':<58}{dt:>9.2f}{dt / n * 1000:>12.3f}"
              f"{peak_mb():>9.0f}  " + ("< 10 s, 500 MB" if n == 100_000 else ""))


if __name__ == "__main__":
    main()
