"""Kaplan-Meier time to progression and the log-rank test, matching R's ``survival``.

* Survival: the Kaplan-Meier product-limit estimate, with Greenwood's variance
  G(t) = sum d / (n (n - d)), from the event counts and numbers at risk (numpy; no lifelines).
* Pointwise confidence bands as R's ``survfit(conf.type=...)``:
  ``log`` S·exp(∓z√G) (upper capped at 1, NA where S = 0); ``log-log``
  exp(-exp(log(-log S) ∓ z√G / log S)) (NA where S is 0 or 1); ``plain``
  S ∓ z·S·√G clipped to [0, 1].
* Median and its confidence interval: R's rule (``survival:::findq``): the first
  time S(t) <= 0.5 (within sqrt(machine epsilon)); where S equals 0.5 on a flat
  stretch, the midpoint of that stretch; the CI limits apply the same rule to
  the bands (Brookmeyer-Crowley style inversion). NA (``nan``) where not reached.
  lifelines differs here (exact comparison, finite limits where R says NA), so
  the rule is implemented directly and pinned to R's output in the tests.
* Log-rank: unstratified, R's ``survdiff(rho = 0)``: observed minus expected events per group at each event
  time, the hypergeometric variance, chi-square on k - 1 degrees of freedom (implemented here with numpy;
  pinned to R's output in the tests, and checked against lifelines' ``multivariate_logrank_test``).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from tdm1core.measuring.intervals import ConfidenceInterval
from tdm1core.settings import CI_METHODS
from tdm1core.measuring.special import chi2_sf

__all__ = [
    "MedianSurvival", "SurvivalAt", "KMGroup", "LogRankResult", "KaplanMeierResult",
    "kaplan_meier", "logrank", "parse_times", "CI_METHOD_LABELS", "LANDMARK_RULE",
]

CI_METHOD_LABELS = {
    "log-log": "log-log (complementary log-log) pointwise bands, as R survfit(conf.type='log-log') and EZR",
    "log": "log pointwise bands, as R survfit(conf.type='log') (R's default)",
    "plain": "plain (linear) pointwise bands, as R survfit(conf.type='plain')",
}
_TOL = math.sqrt(np.finfo(float).eps)
LANDMARK_RULE = ("landmark analysis: only patients event-free and under follow-up beyond the landmark T (time > T) "
                 "enter, with time counted from T")


def _z(level: float) -> float:
    """The normal quantile for a two-sided ``level`` (the standard library's; no scipy import for a KM)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - (1 - level) / 2)


@dataclass(frozen=True)
class MedianSurvival:
    """Median time; ``nan`` where not reached. The CI is Brookmeyer-Crowley-style, from the bands."""

    value: float
    ci: ConfidenceInterval

    @property
    def reached(self) -> bool:
        return not math.isnan(self.value)

    def format(self, digits: int = 1) -> str:
        v = "not reached" if math.isnan(self.value) else f"{self.value:.{digits}f}"
        return f"{v} ({self.ci.level:.0%} CI {self.ci.format(digits)})"


@dataclass(frozen=True)
class SurvivalAt:
    time: float
    survival: float
    std_error: float  # of S, as R's summary(fit, times)$std.err
    n_at_risk: int
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        def c(x: float) -> float | None:
            return None if x is None or math.isnan(x) else float(x)

        return {"survival": c(self.survival), "std_error": c(self.std_error), "n_at_risk": int(self.n_at_risk),
                "ci_low": c(self.ci_low), "ci_high": c(self.ci_high)}


TABLE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper")


@dataclass(frozen=True)
class KMGroup:
    group: str
    n: int
    events: int
    columns: dict[str, np.ndarray] = field(repr=False, compare=False)  # TABLE_COLUMNS, one entry per distinct time
    median: MedianSurvival
    at: tuple[SurvivalAt, ...] = ()

    @functools.cached_property
    def table(self) -> "pd.DataFrame":
        """The estimate as a table: time, n_risk, n_event, n_censor, survival, std_err, lower, upper (as R's summary)."""
        import pandas as pd

        return pd.DataFrame({c: self.columns[c] for c in TABLE_COLUMNS})

    @property
    def censored(self) -> int:
        return self.n - self.events

    def n_at_risk(self, times: Sequence[float]) -> list[int]:
        t, n_risk = self.columns["time"], self.columns["n_risk"]
        k = np.searchsorted(t, np.asarray(times, dtype=float), side="left")  # first time >= x
        return [int(n_risk[i]) if i < len(t) else 0 for i in k]


@dataclass(frozen=True)
class LogRankResult:
    chi2: float
    df: int
    p: float
    test_name: str = "log-rank test (unstratified; R survdiff, rho = 0)"


@dataclass(frozen=True)
class KaplanMeierResult:
    groups: tuple[KMGroup, ...]
    logrank: LogRankResult | None
    ci_method: str
    level: float
    excluded: int = 0
    landmark: float | None = None  # time counted from here; only those event-free and followed beyond it
    landmark_excluded: int = 0  # of ``excluded``: left out by the landmark (an event or censored at or before it)

    def group(self, name: str) -> KMGroup:
        return next(g for g in self.groups if g.group == name)

    def median_table(self) -> "pd.DataFrame":
        """Per group: n, events, censored, median and its CI (NaN = not reached / NA), with the method."""
        import pandas as pd

        return pd.DataFrame([
            {"group": g.group, "n": g.n, "events": g.events, "censored": g.censored, "median_days": g.median.value,
             "ci_low": g.median.ci.low, "ci_high": g.median.ci.high, "level": self.level, "ci_method": self.ci_method}
            for g in self.groups
        ])

    def medians_for_reading(self) -> "pd.DataFrame":
        """The medians in four columns that fit a phone: Group, n, Events, "Median, days (95% CI)" as
        "56.6 (36.0–NA)" (1 decimal; NA = not reached). The same values as :meth:`median_table`."""
        import pandas as pd

        def num(x: float) -> str:
            return "NA" if x is None or math.isnan(x) or math.isinf(x) else f"{x:.1f}"

        label = f"Median, days ({self.level:.0%} CI)"
        return pd.DataFrame([
            {"Group": str(g.group), "n": str(g.n), "Events": str(g.events),
             label: f"{num(g.median.value)} ({num(g.median.ci.low)}–{num(g.median.ci.high)})"}
            for g in self.groups
        ], columns=["Group", "n", "Events", label])

    def to_dict(self) -> dict[str, Any]:
        def c(x: float) -> float | None:
            return None if x is None or math.isnan(x) or math.isinf(x) else float(x)

        return {
            "ci_method": self.ci_method,
            "ci_method_description": CI_METHOD_LABELS[self.ci_method],
            "level": self.level,
            "excluded": self.excluded,
            **({} if self.landmark is None else {"landmark": self.landmark, "landmark_excluded": self.landmark_excluded,
                                                 "landmark_rule": LANDMARK_RULE}),
            "groups": [
                {
                    "group": g.group, "n": g.n, "events": g.events, "censored": g.censored,
                    "median": c(g.median.value), "median_ci_low": c(g.median.ci.low), "median_ci_high": c(g.median.ci.high),
                    "survival_at": {f"{a.time:g}": a.to_dict() for a in g.at},
                }
                for g in self.groups
            ],
            "logrank": None if self.logrank is None else
            {"chi2": self.logrank.chi2, "df": self.logrank.df, "p": self.logrank.p, "test": self.logrank.test_name},
        }


def _bands(s: np.ndarray, g: np.ndarray, method: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """R's survfit_confint with logse = TRUE (se = sqrt(G))."""
    z = _z(level)
    se = np.sqrt(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "plain":
            se2 = se * s * z
            lower = np.maximum(s - se2, 0.0)
            upper = np.minimum(s + se2, 1.0)
            bad = ~np.isfinite(se2)
            lower[bad] = np.nan
            upper[bad] = np.nan
        elif method == "log":
            xx = np.where(s == 0, np.nan, s)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        elif method == "log-log":
            xx = np.where((s == 0) | (s == 1), np.nan, s)
            se2 = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        else:  # validated by Settings, but the function is public
            raise ValueError(f"ci method must be one of {', '.join(CI_METHODS)}, but was {method!r}")
    return lower, upper


def _findq(x: np.ndarray, y: np.ndarray, p: float = 0.5) -> float:
    """R's survival:::findq for one probability: x = [0, times], y = [0, 1 - S]."""
    ok = ~np.isnan(y)
    if not ok.any() or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    # drop duplicated y values (keep the first), as R does; NA values are kept as NA
    keep = np.ones(len(y), dtype=bool)
    seen: set[float] = set()
    for i, v in enumerate(y):
        if not np.isnan(v):
            if v in seen:
                keep[i] = False
            seen.add(v)
        else:
            if "nan" in seen:
                keep[i] = False
            seen.add("nan")  # type: ignore[arg-type]
    x, y = x[keep], y[keep]
    n = len(y)
    valid = ~np.isnan(y)
    idx = np.arange(n)[valid]
    yv = y[valid]

    def first_at_least(target: float) -> int | None:
        # approx(y +/- tol, 1:n, p, method="constant", f=1): smallest index whose value >= p, within range
        if len(yv) == 0 or target < yv[0] or target > yv[-1]:
            return None
        k = int(np.searchsorted(yv, target, side="left"))
        return int(idx[k])

    i1 = first_at_least(p - _TOL)  # y + tol >= p
    i2 = first_at_least(p + _TOL)  # y - tol >= p
    if i1 is None or i2 is None:
        # R: quant NA when either index is NA, except the last-point rule below
        quant = math.nan
    else:
        quant = (x[i1] + x[i2]) / 2
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _TOL and i1 is not None:
        quant = (x[i1] + xmax) / 2
    return float(quant)


def _km_table(time: np.ndarray, event: np.ndarray, method: str, level: float) -> dict[str, np.ndarray]:
    order = np.argsort(time, kind="mergesort")
    t, e = time[order], event[order]
    uniq, start, counts = np.unique(t, return_index=True, return_counts=True)
    d = np.add.reduceat(e, start) if len(t) else np.array([], dtype=float)
    n_total = len(t)
    n_risk = n_total - np.concatenate([[0], np.cumsum(counts)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1 - d / n_risk
        s = np.cumprod(factor)
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    g = np.cumsum(inc)
    lower, upper = _bands(s, g, method, level)
    with np.errstate(invalid="ignore"):
        std_err = s * np.sqrt(g)
    return {
        "time": uniq.astype(float), "n_risk": n_risk.astype(int), "n_event": d.astype(int),
        "n_censor": (counts - d).astype(int), "survival": s, "std_err": np.where(np.isfinite(std_err), std_err, np.nan),
        "lower": lower, "upper": upper, "_g": g,
    }


def _median(table: dict[str, np.ndarray], level: float) -> MedianSurvival:
    x = np.concatenate([[0.0], table["time"]])

    def q(col: str) -> float:
        y = np.concatenate([[0.0], 1 - table[col]])
        return _findq(x, y)

    return MedianSurvival(q("survival"), ConfidenceInterval(q("lower"), q("upper"), level, "inversion of the pointwise bands"))


def _at(table: dict[str, np.ndarray], times: Sequence[float], method: str, level: float) -> tuple[SurvivalAt, ...]:
    out = []
    tt = table["time"]
    for x in times:
        k = int(np.searchsorted(tt, x, side="right")) - 1  # last time <= x
        later = np.searchsorted(tt, x, side="left")
        n_risk = int(table["n_risk"][later]) if later < len(tt) else 0
        if k < 0:
            # before the first observed time R's summary() reports S = 1 with bands of 1
            out.append(SurvivalAt(float(x), 1.0, 0.0, n_risk, 1.0, 1.0))
            continue
        s, g = float(table["survival"][k]), float(table["_g"][k])
        lo, hi = _bands(np.array([s]), np.array([g]), method, level)
        se = s * math.sqrt(g) if math.isfinite(g) else math.nan
        out.append(SurvivalAt(float(x), s, se, n_risk, float(lo[0]), float(hi[0])))
    return tuple(out)


def parse_times(text: str | None) -> list[float]:
    """Times typed as '0, 90, 180' (days); empty text gives []. Raises InputError naming the bad entry."""
    from tdm1core.errors import InputError

    out = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"{part!r} is not a number of days.", column="times",
                             hint="Type days separated by commas, e.g. 0, 90, 180, 365.") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{part!r} is not a time of 0 days or more.", column="times")
        out.append(value)
    return sorted(set(out))


def logrank(time: Sequence[float], event: Sequence[int], group: Sequence[Any]) -> LogRankResult | None:
    """Unstratified log-rank test across the groups (None with fewer than two groups), as R's ``survdiff``."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float) > 0
    labels, g = np.unique(np.array([str(x) for x in group], dtype=object).astype(str), return_inverse=True)
    k = len(labels)
    if k < 2:
        return None
    event_times = np.unique(t[e])
    at_risk = np.empty((k, len(event_times)))
    deaths = np.empty((k, len(event_times)))
    for j in range(k):
        tj = np.sort(t[g == j])
        at_risk[j] = len(tj) - np.searchsorted(tj, event_times, side="left")
        dj = np.sort(t[(g == j) & e])
        deaths[j] = np.searchsorted(dj, event_times, side="right") - np.searchsorted(dj, event_times, side="left")
    n = at_risk.sum(axis=0)
    d = deaths.sum(axis=0)
    observed = deaths.sum(axis=1)
    expected = (at_risk * (d / n)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n * n * (n - 1)), 0.0)  # hypergeometric variance factor per time
    v = np.diag((at_risk * (n * w)).sum(axis=1)) - (at_risk * w) @ at_risk.T
    # as R: groups with no expected event are left out, and the degrees of freedom count the groups kept
    keep = expected > 0
    df = int(keep.sum()) - 1
    if df < 1:
        return LogRankResult(0.0, max(df, 0), math.nan)
    diff = (observed - expected)[keep][1:]
    vv = v[np.ix_(keep, keep)][1:, 1:]
    rank = int(np.linalg.matrix_rank(vv))
    if rank < vv.shape[0]:
        # a singular variance: every event time had all its subjects die (n = d), so the groups carry no information
        # on a difference there. R's survdiff stops ("system is exactly singular"); we answer with the
        # generalised inverse on the rank there is, and no test (p NA) when there is none
        if rank == 0:
            return LogRankResult(0.0, 0, math.nan)
        chi2 = float(diff @ np.linalg.pinv(vv) @ diff)
        return LogRankResult(chi2, rank, chi2_sf(chi2, rank))
    chi2 = float(diff @ np.linalg.solve(vv, diff))
    return LogRankResult(chi2, df, chi2_sf(chi2, df))


def kaplan_meier(
    time: Sequence[float],
    event: Sequence[float],
    group: Sequence[Any] | None = None,
    ci_method: str = "log-log",
    level: float = 0.95,
    at: Sequence[float] = (),
    landmark: float | None = None,
) -> KaplanMeierResult:
    """Kaplan-Meier per group, medians with CIs, survival at chosen times, and the log-rank test.

    Rows with a missing time, event or group are excluded (counted in ``excluded``). With a ``landmark`` T, only the
    rows event-free and under follow-up beyond T (time > T) enter, with time counted from T (:data:`LANDMARK_RULE`);
    the others are counted in ``excluded`` and ``landmark_excluded``.
    """
    if ci_method not in CI_METHODS:
        from tdm1core.errors import SettingsError

        raise SettingsError(f"the CI method must be one of {', '.join(CI_METHODS)}, but was {ci_method!r}.", column="ci")
    t = _numbers(time)
    e = _numbers(event)
    if group is None:
        groups_in = np.full(len(t), "all", dtype=object)
    else:
        groups_in = np.array([None if _missing(x) else str(x) for x in _values(group)], dtype=object)
    if not (len(t) == len(e) == len(groups_in)):
        raise ValueError("time, event and group must have the same length")
    ok = ~np.isnan(t) & ~np.isnan(e) & np.array([x is not None for x in groups_in], dtype=bool)
    excluded = int((~ok).sum())
    t, e, gr = t[ok], e[ok], groups_in[ok]
    landmark_excluded = 0
    if landmark is not None:
        if not math.isfinite(landmark) or landmark < 0:
            from tdm1core.errors import InputError

            raise InputError(f"the landmark must be a time of 0 days or more, but was {landmark!r}.", column="--landmark",
                             hint="e.g. --landmark 90 (days from the start of T-DM1)")
        beyond = t > landmark
        landmark_excluded = int((~beyond).sum())
        t, e, gr = t[beyond] - landmark, e[beyond], gr[beyond]
        excluded += landmark_excluded
    groups = []
    for name in sorted(set(gr.tolist()), key=_natural):
        mask = gr == name
        tab = _km_table(t[mask], e[mask], ci_method, level)
        groups.append(KMGroup(
            group=name, n=int(mask.sum()), events=int(e[mask].sum()),
            columns={c: tab[c] for c in TABLE_COLUMNS}, median=_median(tab, level), at=_at(tab, at, ci_method, level),
        ))
    lr = logrank(t, e, gr) if group is not None else None
    return KaplanMeierResult(tuple(groups), lr, ci_method, level, excluded, landmark, landmark_excluded)


def _values(x: Any) -> list:
    return x.tolist() if hasattr(x, "tolist") else list(x)


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x) or str(x) in ("<NA>", "NaT")
    except (TypeError, ValueError):  # pd.NA cannot be compared
        return True


def _numbers(x: Any) -> np.ndarray:
    """Numbers as floats, NaN where missing or not a number (pandas' to_numeric(errors='coerce'), without pandas)."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiub":
        return x.astype(float)
    if hasattr(x, "to_numpy") and getattr(x, "dtype", None) is not None and getattr(x.dtype, "kind", "O") in "fiub":
        return np.asarray(x.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    if isinstance(x, list):
        try:  # numbers and None (NaN); anything else is looked at one by one below
            return np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            pass
    out = np.empty(len(x), dtype=float)
    for i, v in enumerate(_values(x)):
        try:
            out[i] = math.nan if _missing(v) else float(v)
        except (TypeError, ValueError):
            out[i] = math.nan
    return out


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
