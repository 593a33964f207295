"""Kaplan-Meier, medians with CIs, survival at times and log-rank, pinned to R's survival package.

Reference values: ``tests/fixtures/r/reference_values.csv``, produced by
``Rscript tests/fixtures/r/reference.R`` (R 4.2.2, survival 3.5-3; the script and
the versions are in the fixture). For each dataset, method and group R ran
``survfit(Surv(time, status) ~ 1, conf.type=...)``, ``summary(fit, times=..., extend=TRUE)``
and ``survdiff(Surv(time, status) ~ group)``. Datasets: survival's ``lung`` (by sex) and
``aml`` (by maintenance), and the small hand-made cases in ``small_cases.csv``
(ties, a plateau at exactly S = 0.5, a curve ending at 0.5).
"""
import math
from pathlib import Path

import pandas as pd
import pytest

from tdm1core.stats.survival import kaplan_meier

FIX = Path(__file__).parent / "fixtures" / "r"
REF = pd.read_csv(FIX / "reference_values.csv", dtype=str, keep_default_na=False)
REF["value"] = REF["value"].str.strip()
TIMES = {"lung": [0, 100, 200, 365, 500, 730, 1000], "aml": [5, 10, 20, 30, 45, 100, 161],
         "plateau": [0, 2, 5, 8, 20, 30], "ties": [0, 2, 5, 8, 20, 30], "demo_flag": [30, 60, 90, 180, 365]}


def data(name):
    if name in ("lung", "aml"):
        return pd.read_csv(FIX / f"{name}.csv")
    if name == "demo_flag":
        return pd.read_csv(FIX / "demo_ttp.csv")
    small = pd.read_csv(FIX / "small_cases.csv")
    return small[small["case"] == name]


def r_value(dataset, group, conf, quantity, at=""):
    sel = REF[(REF.dataset == dataset) & (REF.group == group) & (REF.conf_type == conf) & (REF.quantity == quantity) & (REF["at"] == at)]
    assert len(sel) == 1, (dataset, group, conf, quantity, at)
    v = sel["value"].iloc[0]
    return math.nan if v == "NA" else float(v)


def same(ours, theirs):
    if math.isnan(theirs):
        return math.isnan(ours)
    return ours == pytest.approx(theirs, rel=1e-6, abs=1e-9)


CASES = [(d, m) for d in ("lung", "aml", "plateau", "ties", "demo_flag") for m in ("log", "log-log", "plain")
         if d != "demo_flag" or (FIX / "demo_ttp.csv").exists()]


@pytest.mark.parametrize("dataset,method", CASES)
def test_medians_and_their_ci_match_r(dataset, method):
    d = data(dataset)
    res = kaplan_meier(d["time"], d["status"], d["group"], method, 0.95, TIMES[dataset])
    for g in res.groups:
        assert g.n == r_value(dataset, g.group, method, "n")
        assert g.events == r_value(dataset, g.group, method, "events")
        assert same(g.median.value, r_value(dataset, g.group, method, "median")), g.group
        assert same(g.median.ci.low, r_value(dataset, g.group, method, "median_lower")), g.group
        assert same(g.median.ci.high, r_value(dataset, g.group, method, "median_upper")), g.group


@pytest.mark.parametrize("dataset,method", CASES)
def test_survival_at_fixed_times_matches_r_summary(dataset, method):
    d = data(dataset)
    res = kaplan_meier(d["time"], d["status"], d["group"], method, 0.95, TIMES[dataset])
    for g in res.groups:
        for a in g.at:
            at = f"{a.time:g}"
            assert same(a.survival, r_value(dataset, g.group, method, "surv", at)), (g.group, at)
            assert same(a.std_error, r_value(dataset, g.group, method, "std_err", at)), (g.group, at)
            assert a.n_at_risk == r_value(dataset, g.group, method, "n_risk", at), (g.group, at)
            assert same(a.ci_low, r_value(dataset, g.group, method, "lower", at)), (g.group, at, method)
            assert same(a.ci_high, r_value(dataset, g.group, method, "upper", at)), (g.group, at, method)


@pytest.mark.parametrize("dataset", [c for c in ("lung", "aml", "plateau", "ties", "demo_flag") if c != "demo_flag" or (FIX / "demo_ttp.csv").exists()])
def test_logrank_matches_r_survdiff(dataset):
    d = data(dataset)
    lr = kaplan_meier(d["time"], d["status"], d["group"]).logrank
    assert lr.chi2 == pytest.approx(r_value(dataset, "", "", "logrank_chisq"), rel=1e-6)
    assert lr.df == r_value(dataset, "", "", "logrank_df")
    assert lr.p == pytest.approx(r_value(dataset, "", "", "logrank_p"), rel=1e-6)


@pytest.mark.parametrize("method", ["log", "log-log", "plain"])
def test_curve_ending_exactly_at_half_takes_r_midpoint_rule(method):
    d = data("half")
    g = kaplan_meier(d["time"], d["status"], None, method).groups[0]
    assert same(g.median.value, r_value("half", "h", method, "median"))
    assert same(g.median.ci.low, r_value("half", "h", method, "median_lower"))
    assert same(g.median.ci.high, r_value("half", "h", method, "median_upper"))


def test_log_log_bands_equal_lifelines_where_both_are_defined():
    from lifelines import KaplanMeierFitter

    d = data("lung")
    d = d[d.group == "male"]
    ours = kaplan_meier(d["time"], d["status"], None, "log-log").groups[0].table
    kmf = KaplanMeierFitter().fit(d["time"], d["status"])
    ci = kmf.confidence_interval_survival_function_
    for _, row in ours.iterrows():
        if 0 < row["survival"] < 1:
            ll = ci.loc[row["time"]]
            assert row["lower"] == pytest.approx(ll.iloc[0], rel=1e-9)
            assert row["upper"] == pytest.approx(ll.iloc[1], rel=1e-9)


def test_hand_computed_small_case():
    # 4 patients: events at 1 and 3, censored at 2 and 4. S(1) = 3/4, S(3) = 3/4 * 1/2 = 3/8.
    res = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0], None, "log", at=[1, 3])
    a1, a3 = res.groups[0].at
    assert a1.survival == pytest.approx(0.75) and a3.survival == pytest.approx(0.375)
    # Greenwood: 1/(4*3) + 1/(2*1) -> SE(S) = S sqrt(G)
    assert a3.std_error == pytest.approx(0.375 * math.sqrt(1 / 12 + 1 / 2))
    assert res.groups[0].median.value == 3.0


def test_missing_rows_are_excluded_and_counted():
    res = kaplan_meier([1, 2, None, 4], [1, 1, 1, None], ["a", "a", "b", "b"])
    assert res.excluded == 2


from hypothesis import given, settings as hyp_settings, strategies as hs  # noqa: E402


@hyp_settings(max_examples=60, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(1, 40), hs.booleans(), hs.integers(0, 3)), min_size=4, max_size=80))
def test_logrank_equals_lifelines_on_any_data(rows):
    """Our numpy log-rank against lifelines' multivariate_logrank_test (an independent implementation)."""
    import numpy as np
    from lifelines.statistics import multivariate_logrank_test

    from tdm1core.stats.survival import logrank

    t = np.array([r[0] for r in rows], dtype=float)
    e = np.array([int(r[1]) for r in rows])
    g = np.array([f"g{r[2]}" for r in rows])
    ours = logrank(t, e, g)
    if len(set(g)) < 2:
        assert ours is None
        return
    if e.sum() == 0 or ours.df < len(set(g)) - 1:
        return  # no events, or a group with no expected event: R drops it (lifelines does not), so they differ
    ref = multivariate_logrank_test(t, g, e)
    assert ours.df == ref.degrees_of_freedom
    assert ours.chi2 == pytest.approx(ref.test_statistic, rel=1e-9, abs=1e-9)
    assert ours.p == pytest.approx(ref.p_value, rel=1e-9, abs=1e-12)


def test_logrank_with_no_variance_is_no_test_not_a_crash():
    """Hypothesis found it: every event time has all its subjects dying (n = d), so the variance is 0. R's survdiff
    stops with "system is exactly singular"; the product must not crash, and says there is no test (p NA)."""
    import math

    from tdm1core.stats.survival import kaplan_meier, logrank

    t, e, g = [1, 1, 2, 2], [0, 0, 1, 1], ["g0", "g0", "g0", "g1"]
    result = logrank(t, e, g)
    assert result.df == 0 and result.chi2 == 0 and math.isnan(result.p)
    km = kaplan_meier(t, e, g)  # the Survival page and the CLI go through this
    assert km.logrank is not None and math.isnan(km.logrank.p)


@hyp_settings(max_examples=200, deadline=None)
@given(hs.floats(0, 400, allow_nan=False), hs.integers(1, 40))
def test_chi_square_tail_equals_scipy(x, df):
    from scipy.stats import chi2

    from tdm1core.measuring.special import chi2_sf

    ref = float(chi2.sf(x, df))
    assert chi2_sf(x, df) == pytest.approx(ref, rel=1e-10, abs=1e-300)
