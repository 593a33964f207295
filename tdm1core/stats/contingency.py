"""Fisher's exact tests (Table 4) and the flag's diagnostic performance.

Fisher: two-sided, as R's ``fisher.test``: the sum of the hypergeometric probabilities of the tables with the
observed margins that are no more probable than the observed one (relative tolerance 1e-7, as R). 2x2 tables over
the whole support at once (numpy), r x c tables by enumeration where feasible, else a seeded Monte Carlo p-value
(scipy, as R's ``simulate.p.value``). Tested equal to scipy's ``fisher_exact`` and pinned to R.
Proportions: exact Clopper-Pearson intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tdm1core.stats.cohort import Cohort, column_label
from tdm1core.measuring.intervals import ConfidenceInterval
from tdm1core.clinical.risk import AT_RISK, HR_NEGATIVE, HR_POSITIVE, NOT_FLAGGED, is_at_risk

__all__ = ["FisherResult", "fisher", "table4", "STUDY_GROUPINGS", "Proportion", "Performance", "performance",
           "threshold_table", "FISHER_METHOD", "resistance_by"]

FISHER_METHOD = "Fisher's exact test, two-sided (as R fisher.test)"
STUDY_GROUPINGS: list[tuple[str, str, list[str] | None, list[str] | None]] = [
    # characteristic, column, groups in order, display labels
    ("De novo stage IV or recurrent", "stage", ["de novo stage IV", "recurrent"], None),
    ("Hormone receptor status", "hr_group", [HR_POSITIVE, HR_NEGATIVE], None),
    ("T-DM1 line", "tdm1_line", ["second line or earlier", "later than second line"], None),
    ("Prior anthracycline", "prior_anthracycline", ["yes", "no"], None),
    ("Prior pertuzumab", "prior_pertuzumab", ["yes", "no"], None),
    ("Prior lapatinib", "prior_lapatinib", ["yes", "no"], None),
    ("HER2 gene amplification in ctDNA", "her2_ctdna", ["amplified", "not amplified"], ["positive", "negative"]),
    ("PIK3CA mutation in ctDNA", "pik3ca_ctdna", ["mutation positive", "mutation negative"], None),
]


@dataclass(frozen=True)
class FisherResult:
    p_value: float
    table: tuple[tuple[int, ...], ...]
    method: str = FISHER_METHOD

    def odds_ratio(self) -> float | None:
        """The conditional maximum-likelihood odds ratio (as R's fisher.test), 2x2 tables only."""
        arr = np.asarray(self.table, dtype=int)
        if arr.shape != (2, 2):
            return None
        from scipy import stats

        try:
            return float(stats.contingency.odds_ratio(arr, kind="conditional").statistic)
        except (ValueError, ZeroDivisionError):
            return None


def fisher(table: Sequence[Sequence[int]]) -> FisherResult:
    arr = np.asarray(table, dtype=int)
    arr = arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0] if arr.size else arr
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        return FisherResult(math.nan, tuple(map(tuple, np.asarray(table, dtype=int).tolist())))
    if arr.shape == (2, 2):
        p = _fisher_2x2(arr)
    else:
        exact = _fisher_rxc_exact(arr)
        if exact is not None:
            p = exact
        else:
            from scipy import stats

            mc = stats.MonteCarloMethod(n_resamples=100_000, rng=np.random.default_rng(20190601))
            p = float(stats.fisher_exact(arr, method=mc).pvalue)
            return FisherResult(min(p, 1.0), tuple(map(tuple, arr.tolist())),
                                "Fisher's exact test, Monte Carlo p-value from 100,000 tables (too large to enumerate; "
                                "as R fisher.test(simulate.p.value=TRUE))")
    return FisherResult(min(p, 1.0), tuple(map(tuple, arr.tolist())))


def _fisher_2x2(arr: np.ndarray) -> float:
    """R's two-sided p for a 2x2 table: every table with these margins, at once."""
    (a, b), (c, d) = arr.tolist()
    r1, c1, n = a + b, a + c, a + b + c + d
    x = np.arange(max(0, r1 + c1 - n), min(r1, c1) + 1)

    from scipy.special import gammaln  # log-factorials of the whole support at once (a registry's is 10,000s long)

    def lf(v: Any) -> Any:
        return gammaln(np.asarray(v, dtype=float) + 1)

    logp = -(lf(x) + lf(r1 - x) + lf(c1 - x) + lf(n - r1 - c1 + x))
    observed = -float(lf([a, b, c, d]).sum())
    keep = logp <= observed + math.log1p(1e-7)
    top = logp.max()  # scaled, so nothing underflows at registry size
    return float(np.exp(logp[keep] - top).sum() / np.exp(logp - top).sum())


def _fisher_rxc_exact(arr: np.ndarray, limit: int = 300_000) -> float | None:
    """Exact r x c Fisher p-value by enumerating the tables with the observed margins (R's definition:
    the sum of the probabilities of tables no more probable than the observed one, relative tolerance 1e-7).
    None when there are more than ``limit`` tables."""
    from scipy.special import gammaln

    rows = arr.sum(axis=1)
    cols = arr.sum(axis=0)
    n = int(arr.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)

    def logp(cells_lgamma: float) -> float:
        return const - cells_lgamma

    observed = logp(gammaln(arr + 1).sum())
    threshold = observed + math.log1p(1e-7)
    total = 0.0
    count = 0
    lg = gammaln(np.arange(n + 2) + 1)

    def compositions(total_: int, caps: list[int]):
        if len(caps) == 1:
            if total_ <= caps[0]:
                yield (total_,)
            return
        rest = sum(caps[1:])
        for x in range(max(0, total_ - rest), min(caps[0], total_) + 1):
            for tail in compositions(total_ - x, caps[1:]):
                yield (x,) + tail

    def walk(i: int, remaining: list[int], acc: float) -> bool:
        nonlocal total, count
        if i == len(rows) - 1:
            if sum(remaining) != rows[i]:
                return True
            lp = logp(acc + sum(lg[v] for v in remaining))
            count += 1
            if lp <= threshold:
                total += math.exp(lp)
            return count <= limit
        for comp in compositions(int(rows[i]), remaining):
            if not walk(i + 1, [r - c for r, c in zip(remaining, comp)], acc + sum(lg[v] for v in comp)):
                return False
        return True

    if not walk(0, [int(c) for c in cols], 0.0):
        return None
    return total


def resistance_by(cohort: Cohort, column: str, groups: list[str] | None = None, label: str | None = None,
                  display: list[str] | None = None) -> pd.DataFrame:
    """Primary resistance by the groups of one column: n, resistant n (%), Fisher p (rows with known resistance)."""
    df = cohort.patients
    known = df[column].notna() & df["primary_resistance"].notna()
    key = df.loc[known, column].astype(str)
    resistant = (df.loc[known, "primary_resistance"] == "yes")
    n_by = key.value_counts()
    r_by = resistant.groupby(key).sum()
    values = groups if groups is not None else sorted(n_by.index)
    rows, table = [], []
    for i, v in enumerate(values):
        n, r = int(n_by.get(v, 0)), int(r_by.get(v, 0))
        table.append([r, n - r])
        rows.append({"characteristic": label or column, "group": (display[i] if display else v), "n": n, "resistant": r,
                     "percent": round(100 * r / n, 1) if n else math.nan})
    res = fisher(table)
    for row in rows:
        row["p_value"] = res.p_value
        row["test"] = res.method
    return pd.DataFrame(rows, columns=["characteristic", "group", "n", "resistant", "percent", "p_value", "test"])


def table4(cohort: Cohort, columns: Sequence[str] = ()) -> pd.DataFrame:
    """Table 4: primary resistance by the study's groupings, plus any categorical columns asked for."""
    df = cohort.patients
    n = len(df)
    r = int((df["primary_resistance"] == "yes").sum())
    parts = [pd.DataFrame([{"characteristic": "All patients", "group": "all", "n": n, "resistant": r,
                            "percent": round(100 * r / n, 1) if n else math.nan, "p_value": math.nan, "test": ""}])]
    for label, col, groups, display in STUDY_GROUPINGS:
        parts.append(resistance_by(cohort, col, groups, label, display))
    for col in columns:
        if col not in {g[1] for g in STUDY_GROUPINGS}:
            parts.append(resistance_by(cohort, col, label=column_label(col)))  # named as a person says it
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


TABLE4_READING_COLUMNS = ["Characteristic", "Primary resistance, n/N (%)", "p (Fisher)"]


def table4_for_reading(t4: pd.DataFrame) -> pd.DataFrame:
    """Table 4 in three columns that fit a phone, as the paper prints it: a characteristic with several levels gets a
    row of its own with its p-value (to 3 decimals; "<0.001" below that; NA where no test was possible), its levels
    indented under it with "resistant/n (percent)"; a one-row characteristic ("All patients") keeps its line. The
    same counts as ``table4`` (the downloads keep that long form with full precision)."""
    from tdm1core.stats.descriptive import INDENT

    def share(row: Any) -> str:
        n, k, pct = int(row["n"]), int(row["resistant"]), row["percent"]
        return f"{k}/{n} ({pct:.1f})" if n else f"{k}/{n} (NA)"

    def p_text(p: float) -> str:
        if p is None or p != p:
            return "NA"
        return "<0.001" if p < 0.0005 else f"{p:.3f}"

    rows: list[dict[str, str]] = []
    for label, block in t4.groupby("characteristic", sort=False):
        if len(block) == 1:
            row = block.iloc[0]
            tested = bool(str(row.get("test", "")))
            rows.append(dict(zip(TABLE4_READING_COLUMNS, [str(label), share(row), p_text(row["p_value"]) if tested else ""])))
            continue
        rows.append(dict(zip(TABLE4_READING_COLUMNS, [str(label), "", p_text(block["p_value"].iloc[0])])))
        rows.extend(dict(zip(TABLE4_READING_COLUMNS, [INDENT + str(r["group"]), share(r), ""])) for _, r in block.iterrows())
    return pd.DataFrame(rows, columns=TABLE4_READING_COLUMNS)


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int
    ci: ConfidenceInterval

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    def format(self) -> str:
        if not self.n:
            return "NA (0/0)"
        return f"{100 * self.value:.0f}% ({self.k}/{self.n}; {self.ci.level:.0%} CI {100 * self.ci.low:.0f}–{100 * self.ci.high:.0f}%)"


def _prop(k: int, n: int, level: float) -> Proportion:
    if n == 0:
        return Proportion(0, 0, ConfidenceInterval(math.nan, math.nan, level, "Clopper-Pearson exact"))
    from tdm1core.measuring.special import beta_quantile

    # Clopper-Pearson from the beta quantiles, as R's binom.test (scipy's binomtest finds the same limits by root
    # search, which is slow at registry size); tested equal to binomtest
    alpha = 1 - level
    low = 0.0 if k == 0 else beta_quantile(alpha / 2, k, n - k + 1)
    high = 1.0 if k == n else beta_quantile(1 - alpha / 2, k + 1, n - k)
    return Proportion(k, n, ConfidenceInterval(low, high, level, "Clopper-Pearson exact"))


@dataclass(frozen=True)
class Performance:
    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion
    excluded: int
    caveat: str

    def table(self) -> pd.DataFrame:
        """The 2x2 table: flag (rows) by primary resistance (columns)."""
        return pd.DataFrame({"flag": [AT_RISK, NOT_FLAGGED], "primary resistance": [self.tp, self.fn],
                             "no primary resistance": [self.fp, self.tn]})

    def to_dict(self) -> dict[str, Any]:
        def p(x: Proportion) -> dict:
            return {"k": x.k, "n": x.n, "value": None if math.isnan(x.value) else x.value,
                    "ci_low": None if math.isnan(x.ci.low) else x.ci.low, "ci_high": None if math.isnan(x.ci.high) else x.ci.high}

        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "sensitivity": p(self.sensitivity),
                "specificity": p(self.specificity), "ppv": p(self.ppv), "npv": p(self.npv), "excluded": self.excluded,
                "caveat": self.caveat, "ci_method": "Clopper-Pearson exact"}


CAVEAT = ("Small-sample, exploratory estimate from the same patients that suggested the rule (no independent validation): "
          "the intervals are wide and the point estimates optimistic.")


def _performance(flagged: pd.Series, resistant: pd.Series, level: float, excluded: int) -> Performance:
    tp = int((flagged & resistant).sum())
    fp = int((flagged & ~resistant).sum())
    fn = int((~flagged & resistant).sum())
    tn = int((~flagged & ~resistant).sum())
    return Performance(tp, fp, fn, tn, _prop(tp, tp + fn, level), _prop(tn, tn + fp, level), _prop(tp, tp + fp, level),
                       _prop(tn, tn + fn, level), excluded, CAVEAT)


def performance(cohort: Cohort, level: float = 0.95) -> Performance:
    """2x2 of the flag (at risk vs not flagged) against primary resistance; incomplete flags excluded."""
    df = cohort.patients
    ok = df["flag"].isin([AT_RISK, NOT_FLAGGED]) & df["primary_resistance"].notna()
    excluded = int((df["ctdna_available"] == "yes").sum() - ok.sum())
    sub = df[ok]
    return _performance(sub["flag"] == AT_RISK, sub["primary_resistance"] == "yes", level, excluded)


def threshold_table(cohort: Cohort, cutoffs: Sequence[float] = (1.0, 1.1, 1.2, 1.25, 1.3, 1.5, 2.0), level: float = 0.95) -> pd.DataFrame:
    """The flag's performance if HER2 were called amplified at other ratio cut-offs."""
    df = cohort.patients
    ok = df["her2_ratio"].notna() & df["hr_group"].notna() & df["primary_resistance"].notna() & (df["her2_ctdna"] != "not evaluable")
    sub = df[ok]
    rows = []
    for c in sorted(set(cutoffs)):
        flagged = pd.Series(is_at_risk(sub["her2_ratio"].to_numpy() >= c, (sub["hr_group"] == HR_POSITIVE).to_numpy()),
                            index=sub.index, dtype=bool)
        p = _performance(flagged, sub["primary_resistance"] == "yes", level, 0)
        rows.append({"her2_cutoff": c, "flagged": p.tp + p.fp, "tp": p.tp, "fp": p.fp, "fn": p.fn, "tn": p.tn,
                     "sensitivity": p.sensitivity.format(), "specificity": p.specificity.format(),
                     "ppv": p.ppv.format(), "npv": p.npv.format()})
    return pd.DataFrame(rows)
