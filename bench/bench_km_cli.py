"""``python -m tdm1core km`` against a plain lifelines script doing the same work, side by side (issue 12).

The work: 100,000 patients in two groups from one CSV; Kaplan-Meier per group, the median with its 95% CI, and
the log-rank test. Both are whole processes (Python start-up, imports, reading the CSV, the statistics, printing),
timed alternately, median of 5 runs each. Target: the command at least 2x faster than the script.
Synthetic data (exponential times, about 70% events), not patient data.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

LIFELINES_SCRIPT = """
import sys
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

df = pd.read_csv(sys.argv[1])
for name, sub in df.groupby("group"):
    kmf = KaplanMeierFitter().fit(sub["time"], sub["event"], label=str(name))
    ci = median_survival_times(kmf.confidence_interval_)
    print(name, len(sub), int(sub["event"].sum()), kmf.median_survival_time_, ci.values.tolist())
res = multivariate_logrank_test(df["time"], df["group"], df["event"])
print("log-rank", res.test_statistic, res.degrees_of_freedom, res.p_value)
"""


def make_csv(path: Path, n: int = 100_000, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    group = rng.choice(["at risk", "not flagged"], n, p=[0.25, 0.75])
    scale = np.where(group == "at risk", 80.0, 320.0)
    t = np.round(rng.exponential(scale), 1) + 1
    event = (rng.random(n) < 0.7).astype(int)
    with path.open("w") as f:
        f.write("time,event,group\n")
        f.writelines(f"{a},{b},{c}\n" for a, b, c in zip(t, event, group))


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    csv = tmp / "km_100k.csv"
    make_csv(csv)
    script = tmp / "plain_lifelines.py"
    script.write_text(LIFELINES_SCRIPT)
    ours = [sys.executable, "-m", "tdm1core", "km", str(csv), "--time", "time", "--event", "event", "--group", "group"]
    theirs = [sys.executable, str(script), str(csv)]
    timed(ours), timed(theirs)  # warm the file cache and the .pyc files
    a, b = [], []
    for _ in range(5):
        a.append(timed(ours))
        b.append(timed(theirs))
    t_ours, t_theirs = statistics.median(a), statistics.median(b)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("work: 100,000 patients in two groups; KM per group, median with 95% CI, log-rank; whole processes, median of 5")
    print(f"{'what':<48}{'seconds':>10}{'per patient (µs)':>18}")
    print(f"{'python -m tdm1core km':<48}{t_ours:>10.3f}{1e6 * t_ours / 100_000:>18.2f}")
    print(f"{'plain lifelines script':<48}{t_theirs:>10.3f}{1e6 * t_theirs / 100_000:>18.2f}")
    print(f"{'speed-up (target >= 2.0)':<48}{t_theirs / t_ours:>10.2f}")


if __name__ == "__main__":
    main()
