"""Restricted mean survival time up to a horizon tau, as R's ``survfit`` reports it (``print(fit, rmean = tau)``).

* RMST: the area under the Kaplan-Meier curve from 0 to tau.
* Its SE: R's ``survmean``: sqrt(sum over event times t_j <= tau of d_j / (n_j (n_j - d_j)) * A_j^2), where A_j is the
  area under the curve from t_j to tau (Greenwood's variance carried through the integral).
* CI: normal, RMST ± z·SE. Between two groups: the difference (normal approximation, SE the root of the summed
  variances) and the ratio (delta method on the log ratio: SE² = (SE_A / RMST_A)² + (SE_B / RMST_B)²).
* tau must lie within every group's follow-up (at most the smallest of the groups' largest times): beyond it a curve
  is not estimated, and the area would be made up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

from tdm1core.errors import InputError

__all__ = ["RMSTGroup", "RMSTDifference", "RMSTRatio", "RMSTResult", "rmst", "RMST_METHOD"]

RMST_METHOD = ("restricted mean survival time (area under the Kaplan-Meier curve up to tau) with R survfit's "
               "se(rmean); normal CIs; difference by the normal approximation, ratio by the delta method on its log")


@dataclass(frozen=True)
class RMSTGroup:
    group: str
    n: int
    events: int
    rmst: float
    se: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "n": self.n, "events": self.events, "rmst": self.rmst, "se": self.se,
                "low": self.low, "high": self.high}


@dataclass(frozen=True)
class RMSTDifference:
    groups: tuple[str, str]
    estimate: float
    se: float
    low: float
    high: float
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "estimate": self.estimate, "se": self.se, "low": self.low,
                "high": self.high, "p": self.p}


@dataclass(frozen=True)
class RMSTRatio:
    groups: tuple[str, str]
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class RMSTResult:
    tau: float
    level: float
    groups: tuple[RMSTGroup, ...]
    difference: RMSTDifference | None
    ratio: RMSTRatio | None
    excluded: int = 0
    method: str = RMST_METHOD

    def to_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "level": self.level, "groups": [g.to_dict() for g in self.groups],
                "difference": self.difference.to_dict() if self.difference else None,
                "ratio": self.ratio.to_dict() if self.ratio else None, "excluded": self.excluded, "method": self.method}

    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame([g.to_dict() for g in self.groups])


def _area(time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    """R survmean's rmean and se(rmean) for one curve."""
    ut = np.unique(time)
    st = np.sort(time)
    n_risk = len(time) - np.searchsorted(st, ut, side="left")
    et = np.sort(time[event > 0])
    d = np.searchsorted(et, ut, side="right") - np.searchsorted(et, ut, side="left")
    surv = np.cumprod(1 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - d == 0, 0.0, d / (n_risk * (n_risk - d)))
    keep = ut <= tau
    if not keep.any():
        return tau, 0.0
    temptime = np.r_[ut[keep], tau]
    tempsurv = np.r_[surv[keep], surv[keep][-1]]
    hh = np.r_[hh[keep], 0.0]
    delta = np.diff(np.r_[0.0, temptime])
    rect = delta * np.r_[1.0, tempsurv[:-1]]
    after = np.cumsum(rect[1:][::-1])  # the area from each time to tau, latest first
    var = float((after ** 2 * hh[::-1][1:]).sum())
    return float(rect.sum()), math.sqrt(var)


def rmst(time: Sequence[float], event: Sequence[float], group: Sequence[Any] | None = None, tau: float | None = None,
         level: float = 0.95, excluded: int = 0) -> RMSTResult:
    """RMST per group up to ``tau`` (complete rows only), and the difference and ratio when there are two groups."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if tau is None or not math.isfinite(tau) or tau <= 0:
        raise InputError(f"the RMST horizon tau must be a positive number of days, but was {tau!r}.", column="--tau",
                         hint="e.g. --tau 365")
    if not 0 < level < 1:
        raise InputError(f"the confidence level must be between 0 and 1, but was {level!r}.", column="--level")
    labels = np.array(["all"] * len(t) if group is None else [str(g) for g in group], dtype=object)
    names = sorted(set(labels.tolist()))
    if not names:
        raise InputError("no rows to compute an RMST from.", column="time")
    longest = {g: float(t[labels == g].max()) for g in names}
    shortest = min(longest, key=longest.__getitem__)
    if tau > longest[shortest]:
        raise InputError(f"tau = {tau:g} is beyond the follow-up of group {shortest} (its largest time is "
                         f"{longest[shortest]:g}); the curve is not estimated there.", column="--tau",
                         hint=f"Choose tau at most {longest[shortest]:g}.")
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    out = []
    for g in names:
        m = labels == g
        area, se = _area(t[m], e[m], tau)
        out.append(RMSTGroup(g, int(m.sum()), int((e[m] > 0).sum()), area, se, area - z * se, area + z * se))
    diff = ratio = None
    if len(out) == 2:
        a, b = out
        est, se = a.rmst - b.rmst, math.hypot(a.se, b.se)
        p = math.erfc(abs(est / se) / math.sqrt(2)) if se > 0 else math.nan
        diff = RMSTDifference((a.group, b.group), est, se, est - z * se, est + z * se, p)
        log_se = math.hypot(a.se / a.rmst, b.se / b.rmst)
        r = a.rmst / b.rmst
        ratio = RMSTRatio((a.group, b.group), r, r * math.exp(-z * log_se), r * math.exp(z * log_se))
    return RMSTResult(float(tau), level, tuple(out), diff, ratio, excluded)
