"""Cox proportional-hazards models and their proportional-hazards check, as R's ``survival`` computes them.

* The model: R ``coxph`` — partial likelihood with ties by Efron (R's default) or Breslow, optional strata (each
  stratum its own baseline hazard), Newton-Raphson from 0 with step halving; coefficient, SE (the inverse of the
  information at the estimate), hazard ratio with its Wald CI, z and p per term; the likelihood-ratio, Wald and score
  (log-rank) tests; Harrell's concordance as ``coxph``'s ``concordance`` (pairs within strata; tied risk scores
  count one half; pairs tied on an event time are not comparable).
* The check: R ``cox.zph(fit, transform = "km", terms = TRUE)`` (survival >= 3.0) — a score test, at the fitted
  coefficients, for adding each covariate times g(t), where g is 1 - the left-continuous Kaplan-Meier of all the data,
  centred on its mean over the events; one chi-square per term (a category's levels together) and GLOBAL.
* Honest small samples: a monotone likelihood (a level with no events, complete separation) is found with R's own
  rule (``coxph.fit``: the next Newton step is still large compared with the coefficient) and reported as "hazard
  ratio not estimable", with the reason, instead of a huge number; events per variable are stated, with a warning
  below 10.

Pinned to R 4.2 / survival 3.5 in ``tests/test_cox.py`` (``tests/fixtures/r/cox_reference.R``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Sequence

import numpy as np

from tdm1core.errors import InputError
from tdm1core.measuring.special import chi2_sf

__all__ = ["CoxTerm", "ModelTest", "PHTest", "LevelCount", "CoxResult", "Design", "design_matrix", "cox_model",
           "TIES", "COX_METHOD", "ZPH_METHOD", "MIN_EVENTS_PER_VARIABLE"]

TIES = ("efron", "breslow")
COX_METHOD = ("Cox proportional-hazards model (partial likelihood, Newton-Raphson), as R survival::coxph; "
              "Wald confidence intervals; likelihood-ratio, Wald and score tests")
ZPH_METHOD = "proportional-hazards test as R survival::cox.zph(transform = 'km', terms = TRUE), with the global test"
MIN_EVENTS_PER_VARIABLE = 10
_EPS = 1e-9  # R coxph.control(eps): the convergence and the infinite-coefficient rule
_TOLER_INF = math.sqrt(_EPS)


@dataclass(frozen=True)
class CoxTerm:
    """One coefficient: ``term`` is ``COL`` (a number) or ``COL=LEVEL`` (a category against its reference)."""

    term: str
    coef: float | None
    se: float | None
    hr: float | None
    hr_low: float | None
    hr_high: float | None
    z: float | None
    p: float | None
    estimable: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("term", "coef", "se", "hr", "hr_low", "hr_high", "z", "p")} | (
            {} if self.estimable else {"not_estimable": self.reason})


@dataclass(frozen=True)
class ModelTest:
    statistic: float | None
    df: int
    p: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p": self.p}


@dataclass(frozen=True)
class PHTest:
    term: str
    chisq: float
    df: int
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "chisq": self.chisq, "df": self.df, "p": self.p}


@dataclass(frozen=True)
class LevelCount:
    """Patients and events per level of a covariate (the forest plot's columns); ``term`` None for a reference."""

    covariate: str
    level: str
    n: int
    events: int
    term: str | None


@dataclass(frozen=True)
class Design:
    """The model matrix: one column per coefficient, which covariate each column belongs to, the reference levels."""

    x: np.ndarray
    terms: tuple[str, ...]
    assign: tuple[tuple[str, tuple[int, ...]], ...]  # covariate -> its columns
    references: tuple[tuple[str, str], ...]
    levels: tuple[LevelCount, ...] = ()


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model with the method and settings it was made with (``to_dict`` is the command line's JSON)."""

    n: int
    events: int
    ties: str
    level: float
    covariates: tuple[str, ...]
    strata: str | None
    coefficients: tuple[CoxTerm, ...]
    likelihood_ratio: ModelTest
    wald: ModelTest
    score: ModelTest
    concordance: float | None
    ph_test: tuple[PHTest, ...]
    warnings: tuple[str, ...]
    references: tuple[tuple[str, str], ...]
    levels: tuple[LevelCount, ...]
    loglik: tuple[float, float]
    excluded: int = 0
    zph_time: tuple[float, ...] = ()
    zph_residuals: tuple[tuple[float, ...], ...] = ()  # scaled Schoenfeld residuals, one tuple per coefficient
    method: str = COX_METHOD
    ph_method: str = ZPH_METHOD

    @property
    def estimable(self) -> bool:
        return all(t.estimable for t in self.coefficients)

    @property
    def events_per_variable(self) -> float:
        return self.events / max(len(self.coefficients), 1)

    def term(self, name: str) -> CoxTerm:
        for t in self.coefficients:
            if t.term == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "events": self.events, "ties": self.ties, "level": self.level, "strata": self.strata,
            "covariates": list(self.covariates), "references": dict(self.references), "excluded": self.excluded,
            "coefficients": [t.to_dict() for t in self.coefficients],
            "tests": {"likelihood_ratio": self.likelihood_ratio.to_dict(), "wald": self.wald.to_dict(),
                      "score": self.score.to_dict()},
            "concordance": self.concordance, "ph_test": [p.to_dict() for p in self.ph_test],
            "events_per_variable": self.events_per_variable, "warnings": list(self.warnings),
            "method": self.method, "ph_method": self.ph_method,
        }

    def table(self) -> "Any":
        """The coefficients as a table (one row per term; what the page shows and the downloads carry)."""
        import pandas as pd

        return pd.DataFrame([{"term": t.term, "coef": t.coef, "se": t.se, "hazard ratio": t.hr,
                              f"HR {self.level:.0%} low": t.hr_low, f"HR {self.level:.0%} high": t.hr_high, "z": t.z,
                              "p": t.p, "note": "" if t.estimable else f"hazard ratio not estimable: {t.reason}"}
                             for t in self.coefficients])

    def forest_rows(self) -> list[dict[str, Any]]:
        """One row per covariate level, as a forest plot lists them: the reference level (HR 1, marked), each other
        level with its HR and CI, a number per unit; n and events per level; a note where not estimable."""
        rows = []
        for lv in self.levels:
            label = lv.covariate if lv.term == lv.covariate else f"{lv.covariate}: {lv.level}"
            if lv.term is None:
                rows.append({"label": label + " (reference)", "covariate": lv.covariate, "n": lv.n, "events": lv.events,
                             "hr": 1.0, "low": None, "high": None, "reference": True, "note": "reference"})
                continue
            c = self.term(lv.term)
            rows.append({"label": label + (" (per unit)" if lv.term == lv.covariate else ""), "covariate": lv.covariate,
                         "n": lv.n, "events": lv.events, "hr": c.hr, "low": c.hr_low, "high": c.hr_high,
                         "reference": False, "note": "" if c.estimable else "not estimable"})
        return rows

    def ph_table(self) -> "Any":
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.ph_test], columns=["term", "chisq", "df", "p"])


# ------------------------------------------------------------------ the model matrix

def _is_number(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def design_matrix(columns: Mapping[str, Sequence[Any]], covariates: Sequence[str],
                  reference: Mapping[str, str] | None = None, event: Sequence[float] | None = None) -> Design:
    """Numbers as numbers, text as categories (one column per level but the reference: the first in sorted order
    unless ``reference`` names it), as R's model.matrix with treatment contrasts. No row may be missing here."""
    reference = dict(reference or {})
    unknown = sorted(set(reference) - set(covariates))
    if unknown:
        raise InputError(f"--reference names {', '.join(unknown)}, which is not among the covariates.",
                         column="--reference", hint="Give COL=LEVEL for a categorical covariate of the model.")
    cols: list[np.ndarray] = []
    terms: list[str] = []
    assign: list[tuple[str, tuple[int, ...]]] = []
    refs: list[tuple[str, str]] = []
    levels: list[LevelCount] = []
    ev = np.asarray(event if event is not None else [], dtype=float)
    for name in covariates:
        values = list(columns[name])
        if all(_is_number(v) for v in values) and name not in reference:
            x = np.array([float(v) for v in values])
            assign.append((name, (len(terms),)))  # one column: a number per unit
            cols.append(x)
            terms.append(name)
            levels.append(LevelCount(name, "per unit", len(values), int(ev.sum()) if len(ev) else 0, name))
            continue
        text = [str(v).strip() for v in values]
        found = sorted(set(text))
        ref = reference.get(name, found[0])
        if ref not in found:
            raise InputError(f"the reference level {ref!r} of {name} is not in the data; its levels are "
                             f"{', '.join(found)}.", column=name, hint="Give one of the levels listed.")
        if len(found) < 2:
            raise InputError(f"the covariate {name} has one level only ({ref}), so it has no effect to estimate.",
                             column=name, hint="Leave it out of the model, or check the data.")
        refs.append((name, ref))
        arr = np.array(text, dtype=object)
        idx = []
        for lvl in [ref] + [f for f in found if f != ref]:
            mask = arr == lvl
            term = None if lvl == ref else f"{name}={lvl}"
            levels.append(LevelCount(name, lvl, int(mask.sum()), int(ev[mask].sum()) if len(ev) else 0, term))
            if term is None:
                continue
            idx.append(len(terms))
            cols.append(mask.astype(float))
            terms.append(term)
        assign.append((name, tuple(idx)))
    x = np.column_stack(cols) if cols else np.empty((len(ev), 0))
    return Design(x, tuple(terms), tuple(assign), tuple(refs), tuple(levels))


# ------------------------------------------------------------------ the partial likelihood

@dataclass
class _Sorted:
    """The data ordered by stratum and time, with the event-time groups of each stratum (risk sets by suffix sums)."""

    time: np.ndarray
    status: np.ndarray
    x: np.ndarray
    stratum: np.ndarray
    # per event-time group: the end of its risk set (descending order: rows [start_of_stratum, end)) and its deaths
    group_end: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    group_stratum_start: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    group_of_death: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    deaths_per_group: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    death_rows: np.ndarray = field(default_factory=lambda: np.empty(0, int))


def _sort(time: np.ndarray, status: np.ndarray, x: np.ndarray, stratum: np.ndarray) -> _Sorted:
    order = np.lexsort((-status, -time, stratum))  # stratum, then time descending (deaths first at a tie)
    t, s, xx, st = time[order], status[order], x[order], stratum[order]
    n = len(t)
    new_stratum = np.r_[True, st[1:] != st[:-1]]
    stratum_start = np.maximum.accumulate(np.where(new_stratum, np.arange(n), 0))
    # rows sharing (stratum, time) form a block; the risk set of a time is every row up to the block's end
    new_block = new_stratum | np.r_[True, t[1:] != t[:-1]]
    block = np.cumsum(new_block) - 1
    block_end = np.r_[np.nonzero(new_block)[0][1:], n]
    deaths = s > 0
    death_rows = np.nonzero(deaths)[0]
    groups, group_of_death = np.unique(block[death_rows], return_inverse=True)
    return _Sorted(t, s, xx, st, group_end=block_end[groups], group_stratum_start=stratum_start[np.nonzero(new_block)[0][groups]],
                   group_of_death=group_of_death, deaths_per_group=np.bincount(group_of_death, minlength=len(groups)),
                   death_rows=death_rows)


def _risk_sums(d: _Sorted, w: np.ndarray, wx: np.ndarray, wxx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S0, S1 (and S2) over each event-time group's risk set: suffix sums within the stratum."""
    def at(c: np.ndarray) -> np.ndarray:
        cum = np.concatenate([np.zeros((1,) + c.shape[1:]), np.cumsum(c, axis=0)])
        return cum[d.group_end] - cum[d.group_stratum_start]

    return at(w), at(wx), at(wxx)


def _slots(d: _Sorted, efron: bool) -> tuple[np.ndarray, np.ndarray]:
    """One slot per death: its event-time group and the fraction of the tied deaths' sums taken out (Efron k/d)."""
    g = d.group_of_death
    first = np.r_[0, np.cumsum(d.deaths_per_group)[:-1]]
    k = np.arange(len(g)) - first[g]
    frac = k / d.deaths_per_group[g] if efron else np.zeros(len(g))
    return g, frac


@dataclass(frozen=True)
class _Sums:
    """At one beta: each death slot's risk-set sums less the Efron share of its tied deaths (a0, a1, a2), and eta."""

    eta: np.ndarray
    g: np.ndarray  # each death slot's event-time group
    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray  # flattened p x p


def _sums(d: _Sorted, beta: np.ndarray, efron: bool) -> _Sums:
    p = d.x.shape[1]
    eta = d.x @ beta
    w = np.exp(eta)
    wx = d.x * w[:, None]
    wxx = (d.x[:, :, None] * d.x[:, None, :]).reshape(len(w), p * p) * w[:, None]
    s0, s1, s2 = _risk_sums(d, w, wx, wxx)
    dr, ng = d.death_rows, len(d.deaths_per_group)

    def by_group(values: np.ndarray) -> np.ndarray:
        cols = [np.bincount(d.group_of_death, weights=values[dr, j], minlength=ng) for j in range(values.shape[1])]
        return np.stack(cols, axis=1) if cols else np.empty((ng, 0))

    d0 = np.bincount(d.group_of_death, weights=w[dr], minlength=ng)
    d1, d2 = by_group(wx), by_group(wxx)
    g, frac = _slots(d, efron)
    return _Sums(eta, g, s0[g] - frac * d0[g], s1[g] - frac[:, None] * d1[g], s2[g] - frac[:, None] * d2[g])


def _loglik(d: _Sorted, beta: np.ndarray, efron: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """The log partial likelihood, its gradient and the information, at ``beta``."""
    p = d.x.shape[1]
    sm = _sums(d, beta, efron)
    dr = d.death_rows
    ll = float(sm.eta[dr].sum() - np.log(sm.a0).sum())
    m = sm.a1 / sm.a0[:, None]
    u = d.x[dr].sum(axis=0) - m.sum(axis=0)
    info = (sm.a2 / sm.a0[:, None]).sum(axis=0).reshape(p, p) - m.T @ m
    return ll, u, info


def _newton(d: _Sorted, efron: bool, max_iter: int = 30) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    """R's coxfit6 iteration: Newton-Raphson from 0, step halving when the likelihood falls; converged when the log
    likelihood changes by at most a relative 1e-9 (then one more step, as R, while that still moves it)."""
    p = d.x.shape[1]
    beta = np.zeros(p)
    ll0, u0, info0 = _loglik(d, beta, efron)
    ll, u, info = ll0, u0, info0
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(info, u)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, u, rcond=None)[0]
        new = beta + step
        new_ll, new_u, new_info = _loglik(d, new, efron)
        halvings = 0
        while (not math.isfinite(new_ll) or new_ll < ll) and halvings < 30:
            new = (new + beta) / 2
            new_ll, new_u, new_info = _loglik(d, new, efron)
            halvings += 1
        done = abs(1 - ll / new_ll) <= _EPS if new_ll != 0 else abs(new_ll - ll) <= _EPS
        beta, ll, u, info = new, new_ll, new_u, new_info
        if done and halvings == 0:
            break
    return beta, ll0, ll, u, info


# ------------------------------------------------------------------ concordance

def _later_smaller(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i: how many j > i have v[j] < v[i], and how many v[j] == v[i] (a bottom-up merge count, numpy)."""
    n = len(v)
    less = np.zeros(n, dtype=np.int64)
    equal = np.zeros(n, dtype=np.int64)
    rank = np.unique(v, return_inverse=True)[1].astype(np.int64)
    span = int(rank.max()) + 2 if n else 1
    idx = np.arange(n)
    width = 1
    while width < n:
        block = idx // width
        pair = block // 2
        left = block % 2 == 0
        right = ~left
        keys = np.sort(pair[right] * span + rank[right])
        q = pair[left] * span + rank[left]
        lo = np.searchsorted(keys, q, side="left")
        hi = np.searchsorted(keys, q, side="right")
        base = np.searchsorted(keys, pair[left] * span, side="left")
        less[left] += lo - base
        equal[left] += hi - lo
        width *= 2
    return less, equal


def concordance(time: np.ndarray, status: np.ndarray, risk: np.ndarray, stratum: np.ndarray) -> float | None:
    """Harrell's C as R's ``coxph`` reports it: over pairs within a stratum where the earlier time is an event (a
    censored time equal to it counts as later), concordant when the earlier one has the higher risk score; tied
    scores count one half; two events at the same time are not compared."""
    conc = disc = tied = 0
    for s in np.unique(stratum):
        m = stratum == s
        t, e, r = time[m], status[m] > 0, risk[m]
        order = np.lexsort((~e, t))  # time ascending, events before censored times at a tie
        t, e, r = t[order], e[order], r[order]
        less, equal = _later_smaller(r)
        later = len(r) - 1 - np.arange(len(r))
        # the events after each event at the same time (this order puts them next) are not comparable with it
        dr = np.nonzero(e)[0]
        if not len(dr):
            continue
        block = np.unique(t[dr], return_inverse=True)[1].astype(np.int64)
        ranks = np.unique(r[dr], return_inverse=True)[1].astype(np.int64)
        same_less, same_equal = _later_smaller(block * (int(ranks.max()) + 2) + ranks)
        size = np.bincount(block)
        first = np.r_[0, np.cumsum(size)[:-1]]
        same = size[block] - 1 - (np.arange(len(dr)) - first[block])
        c = less[dr] - same_less
        tx = equal[dr] - same_equal
        conc += int(c.sum())
        tied += int(tx.sum())
        disc += int((later[dr] - same - c - tx).sum())
    total = conc + disc + tied
    return (conc + tied / 2) / total if total > 0 else None


# ------------------------------------------------------------------ the proportional-hazards check

def _km_transform(time: np.ndarray, status: np.ndarray) -> np.ndarray:
    """1 - the left-continuous Kaplan-Meier of all the data at each time (cox.zph's ``transform = "km"``)."""
    ut = np.unique(time)
    n_risk = len(time) - np.searchsorted(np.sort(time), ut, side="left")
    et = np.sort(time[status > 0])
    d = np.searchsorted(et, ut, side="right") - np.searchsorted(et, ut, side="left")
    surv = np.cumprod(1 - d / n_risk)
    before = np.searchsorted(ut, time, side="left")  # KM times strictly below each time
    return 1.0 - np.r_[1.0, surv][before]


def _zph(d: _Sorted, beta: np.ndarray, info_inv: np.ndarray, efron: bool,
         assign: Sequence[tuple[str, tuple[int, ...]]]) -> tuple[tuple[PHTest, ...], np.ndarray, np.ndarray]:
    """cox.zph's tests, and the scaled Schoenfeld residuals (per death, one column per coefficient)."""
    p = d.x.shape[1]
    ttimes = _km_transform(d.time, d.status)
    gtime = ttimes - ttimes[d.status > 0].mean()
    sm = _sums(d, beta, efron)
    dr, ng, g = d.death_rows, len(d.deaths_per_group), sm.g
    m = sm.a1 / sm.a0[:, None]
    v = (sm.a2 / sm.a0[:, None]).reshape(-1, p, p) - m[:, :, None] * m[:, None, :]
    gt = gtime[dr]  # the same g for the tied deaths of a time
    mean_by_group = np.stack([np.bincount(g, weights=m[:, j], minlength=ng) for j in range(p)], axis=1) / d.deaths_per_group[:, None]
    schoen = d.x[dr] - mean_by_group[d.group_of_death]
    u_time = (schoen * gt[:, None]).sum(axis=0)
    i11 = v.sum(axis=0)
    i12 = (v * gt[:, None, None]).sum(axis=0)
    i22 = (v * (gt ** 2)[:, None, None]).sum(axis=0)
    imat = np.block([[i11, i12], [i12, i22]])
    tests = []
    for name, cols in assign:
        kk = list(range(p)) + [p + c for c in cols]
        uu = np.r_[np.zeros(p), u_time[list(cols)]]
        stat = float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu))
        tests.append(PHTest(name, stat, len(cols), chi2_sf(stat, len(cols))))
    uu = np.r_[np.zeros(p), u_time]
    stat = float(uu @ np.linalg.solve(imat, uu))
    tests.append(PHTest("GLOBAL", stat, p, chi2_sf(stat, p)))
    scaled = schoen @ info_inv * len(dr) + beta
    order = np.argsort(d.time[dr], kind="stable")  # by time, as cox.zph lists them
    return tuple(tests), d.time[dr][order], scaled[order]


# ------------------------------------------------------------------ the model

def _wald_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def _not_estimable_reason(design: Design, col: int, status: np.ndarray) -> str:
    for lv in design.levels:
        if lv.term == design.terms[col] and lv.events == 0:
            return f"no events in {lv.covariate} = {lv.level} (monotone likelihood)"
    covariate = next(name for name, cols in design.assign if col in cols)
    for lv in design.levels:
        if lv.covariate == covariate and lv.term is None and lv.events == 0:
            return f"no events in the reference level {lv.covariate} = {lv.level} (monotone likelihood)"
    return ("the likelihood keeps rising as the coefficient grows (monotone likelihood: the covariate separates "
            "the events completely or almost)")


def cox_model(time: Sequence[float], status: Sequence[int], columns: Mapping[str, Sequence[Any]],
              covariates: Sequence[str], strata: Sequence[Any] | None = None, ties: str = "efron",
              reference: Mapping[str, str] | None = None, level: float = 0.95, strata_name: str | None = None,
              excluded: int = 0) -> CoxResult:
    """Fit a Cox model as R ``coxph`` (complete rows only: drop missing values before; ``excluded`` says how many)."""
    if ties not in TIES:
        raise InputError(f"ties must be efron or breslow, but was {ties!r}.", column="--ties", hint="efron (R's default) or breslow.")
    if not 0 < level < 1:
        raise InputError(f"the confidence level must be between 0 and 1, but was {level!r}.", column="--level")
    if not covariates:
        raise InputError("a Cox model needs at least one covariate.", column="--covariates", hint="e.g. --covariates flag")
    t = np.asarray(time, dtype=float)
    e = (np.asarray(status, dtype=float) > 0).astype(float)
    if len(t) == 0 or e.sum() == 0:
        raise InputError("the data have no events, so no hazard ratio can be estimated.", column="event",
                         hint="Check the event column (1 = event, 0 = censored).")
    design = design_matrix(columns, covariates, reference, e.tolist())
    st = np.unique(np.asarray([str(v) for v in strata], dtype=object).astype(str), return_inverse=True)[1] \
        if strata is not None else np.zeros(len(t), dtype=int)
    x = design.x - design.x.mean(axis=0)  # centred, as R (the results do not depend on it)
    d = _sort(t, e, x, st)
    efron = ties == "efron"
    beta, ll0, ll, u, info = _newton(d, efron)
    _, u_null, info_null = _loglik(d, np.zeros(len(beta)), efron)
    p = len(beta)
    rank = int(np.linalg.matrix_rank(info)) if p else 0
    info_inv = np.linalg.pinv(info) if rank < p else np.linalg.inv(info)
    step = np.abs(u @ info_inv)
    infinite = (step > _EPS) & (step > _TOLER_INF * np.abs(beta))
    z_level = NormalDist().inv_cdf(1 - (1 - level) / 2)
    terms = []
    for j, name in enumerate(design.terms):
        if infinite[j] or rank < p:
            terms.append(CoxTerm(name, None, None, None, None, None, None, None, False,
                                 _not_estimable_reason(design, j, e) if infinite[j] else "the covariates are collinear"))
            continue
        se = math.sqrt(info_inv[j, j])
        z = beta[j] / se
        terms.append(CoxTerm(name, float(beta[j]), se, math.exp(beta[j]), math.exp(beta[j] - z_level * se),
                             math.exp(beta[j] + z_level * se), z, _wald_p(z)))
    estimable = all(tm.estimable for tm in terms)
    warnings = []
    if excluded:
        warnings.append(f"{excluded} row(s) with a missing time, event, covariate or stratum were left out (as R's na.omit).")
    for tm in terms:
        if not tm.estimable:
            warnings.append(f"{tm.term}: hazard ratio not estimable: {tm.reason}.")
    epv = e.sum() / max(p, 1)
    if epv < MIN_EVENTS_PER_VARIABLE:
        warnings.append(f"{int(e.sum())} events for {p} coefficient(s): {epv:.1f} events per variable, below "
                        f"{MIN_EVENTS_PER_VARIABLE}; the estimates may be unstable and the CIs too narrow.")
    lr_stat = 2 * (ll - ll0)
    score_stat = float(u_null @ np.linalg.solve(info_null, u_null)) if np.linalg.matrix_rank(info_null) == p else math.nan
    wald = ModelTest(float(beta @ info @ beta), p, chi2_sf(float(beta @ info @ beta), p)) if estimable \
        else ModelTest(None, p, None)
    ph: tuple[PHTest, ...] = ()
    ztime, zres = np.empty(0), np.empty((0, p))
    if estimable:
        ph, ztime, zres = _zph(d, beta, info_inv, efron, design.assign)
    else:
        warnings.append("no proportional-hazards check: a coefficient is not estimable.")
    conc = concordance(t, e, design.x @ beta, st) if estimable else None
    return CoxResult(
        n=len(t), events=int(e.sum()), ties=ties, level=level, covariates=tuple(covariates), strata=strata_name,
        coefficients=tuple(terms), likelihood_ratio=ModelTest(lr_stat, p, chi2_sf(lr_stat, p)),
        wald=wald, score=ModelTest(score_stat, p, chi2_sf(score_stat, p) if math.isfinite(score_stat) else None),
        concordance=conc, ph_test=ph, warnings=tuple(warnings), references=design.references, levels=design.levels,
        loglik=(ll0, ll), excluded=excluded, zph_time=tuple(float(v) for v in ztime),
        zph_residuals=tuple(tuple(float(v) for v in zres[:, j]) for j in range(zres.shape[1])))
