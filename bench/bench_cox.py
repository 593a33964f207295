"""``python -m tdm1core cox`` against a plain lifelines ``CoxPHFitter`` script on the same CSV, side by side
(issue 27), and ``rmst`` and ``km --landmark`` on the same 100,000 patients.

The work: 100,000 patients, 5 covariates (2 numbers, a 3-level category, a 2-level category, a count): the model,
its likelihood-ratio test, the concordance and the proportional-hazards check. The lifelines script does the same
(``fit`` with Efron ties, ``log_likelihood_ratio_test``, ``concordance_index_``, ``proportional_hazard_test`` with
the KM transform) so the comparison is of the same outputs. Whole processes (start-up, imports, reading the CSV,
the statistics, printing), timed alternately, median of 3 runs each. Targets: cox at most the lifelines script's
time; rmst and landmark under 2 s each. Synthetic data, not patient data.
"""
from __future__ import annotations

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
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

df = pd.read_csv(sys.argv[1])
X = pd.get_dummies(df[["time", "event", "age", "x2", "grp", "flag", "lines"]], columns=["grp", "flag"], drop_first=True, dtype=float)
cph = CoxPHFitter().fit(X, "time", "event")
print(cph.summary[["coef", "se(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%", "p"]].to_string())
print(cph.log_likelihood_ratio_test().test_statistic, cph.concordance_index_)
print(proportional_hazard_test(cph, X, time_transform="km").summary.to_string())
"""


def make_csv(path: Path, n: int = 100_000, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n).round(1)
    x2 = rng.normal(0, 1, n).round(4)
    grp = rng.choice(["a", "b", "c"], n)
    flag = rng.choice(["at risk", "not flagged"], n, p=[0.3, 0.7])
    lines = rng.integers(0, 5, n)
    lp = 0.02 * (age - 60) + 0.3 * x2 + np.where(grp == "b", 0.2, np.where(grp == "c", -0.3, 0)) \
        + np.where(flag == "at risk", 0.7, 0) + 0.1 * lines
    t = rng.exponential(300 * np.exp(-lp)).round(0) + 1
    c = rng.exponential(500, n).round(0) + 1
    with path.open("w") as f:
        f.write("time,event,age,x2,grp,flag,lines\n")
        f.writelines(f"{a:g},{int(b)},{x},{y},{g},{fl},{li}\n"
                     for a, b, x, y, g, fl, li in zip(np.minimum(t, c), t <= c, age, x2, grp, flag, lines))


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed: {out.stderr[-1500:]}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "cohort.csv"
        make_csv(csv_path)
        script = Path(tmp) / "lifelines_cox.py"
        script.write_text(LIFELINES_SCRIPT)
        ours = [sys.executable, "-m", "tdm1core", "cox", str(csv_path), "--time", "time", "--event", "event",
                "--covariates", "age,x2,grp,flag,lines", "--json"]
        theirs = [sys.executable, str(script), str(csv_path)]
        rmst = [sys.executable, "-m", "tdm1core", "rmst", str(csv_path), "--time", "time", "--event", "event",
                "--group", "flag", "--tau", "300", "--json"]
        landmark = [sys.executable, "-m", "tdm1core", "km", str(csv_path), "--time", "time", "--event", "event",
                    "--group", "flag", "--landmark", "60", "--json"]
        a, b, r, m = [], [], [], []
        for _ in range(3):
            a.append(timed(ours))
            b.append(timed(theirs))
            r.append(timed(rmst))
            m.append(timed(landmark))
    med = statistics.median
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}; whole processes, "
          "median of 3")
    print(f"{'work (100,000 patients)':52} {'seconds':>8} {'peer s':>8}  target")
    print(f"{'cox, 5 covariates (+ LR, concordance, PH check)':52} {med(a):8.2f} {med(b):8.2f}  <= lifelines script "
          f"({'met' if med(a) <= med(b) else 'NOT met'})")
    print(f"{'rmst by flag, tau 300':52} {med(r):8.2f} {'':>8}  < 2 s ({'met' if med(r) < 2 else 'NOT met'})")
    print(f"{'km --landmark 60 by flag':52} {med(m):8.2f} {'':>8}  < 2 s ({'met' if med(m) < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
