"""Full cohort statistics (Tables 1-4, KM with log-rank, flag performance) on synthetic cohorts.

Targets on this machine: < 0.5 s at 10,000 patients, < 2 s at 100,000, growth no worse than n log n.
Synthetic cohorts are the demo cohort resampled with jittered times (not patient data).
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tdm1core.stats.cohort import load_cohort  # noqa: E402
from tdm1core.reading.exports import read_export  # noqa: E402
from tdm1core.demo import DEMO_DIR, demo_export_path  # noqa: E402
from tdm1core.stats import analyse_cohort  # noqa: E402


def synthetic(base, n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, base.n, n)
    df = base.patients.iloc[idx].reset_index(drop=True).copy()
    df["patient_id"] = [f"S{i:06d}" for i in range(n)]
    df["ttp_days"] = np.round(df["ttp_days"].to_numpy() * rng.uniform(0.8, 1.2, n), 1)
    return replace(base, patients=df)


def main() -> None:
    base = load_cohort((DEMO_DIR / "demo_patients.csv").read_bytes(), "demo", [read_export(demo_export_path())])
    analyse_cohort(base)  # warm imports
    print(f"{'patients':>10}{'median s':>12}{'target s':>10}{'s per n log n (x1e6)':>24}")
    for n in (34, 1_000, 10_000, 100_000):
        cohort = base if n == 34 else synthetic(base, n)
        runs = 5 if n <= 10_000 else 3
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            analyse_cohort(cohort)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        target = {10_000: "0.5", 100_000: "2"}.get(n, "")
        print(f"{n:>10,}{med:>12.3f}{target:>10}{med / (n * np.log(n)) * 1e6:>24.3f}")


if __name__ == "__main__":
    main()
