"""Cox models, cox.zph, RMST and landmarks against R 4.2 / survival 3.5 (tests/fixtures/r/cox_reference.R: values R
computed, committed as JSON; these tests never need R), and the rules R does not decide: monotone likelihoods shown
as not estimable, the order of the rows, concordance against a brute-force count, and the refusals."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tdm1core.errors import InputError
from tdm1core.stats.cox import concordance, cox_model
from tdm1core.stats.rmst import rmst
from tdm1core.stats.survival import kaplan_meier

FIX = Path(__file__).parent / "fixtures" / "r"
REF = json.loads((FIX / "cox_reference.json").read_text())
TOL = 1e-6


def _rows(name: str) -> list[dict[str, str]]:
    with open(FIX / f"cox_{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def _fit(case: dict):
    cols = case["covariates"] + [case["time"], case["event"]] + ([case["strata"]] if case["strata"] else [])
    rows = [r for r in _rows(case["data"]) if all(r[c] != "" for c in cols)]  # R's na.omit
    reference = dict([case["reference"].split("=")]) if case["reference"] else None
    return cox_model([float(r[case["time"]]) for r in rows], [int(float(r[case["event"]])) for r in rows],
                     {c: [r[c] for r in rows] for c in case["covariates"]}, case["covariates"],
                     strata=[r[case["strata"]] for r in rows] if case["strata"] else None, ties=case["ties"],
                     reference=reference)


def _r_term(term: str, case: dict) -> str:
    """R's name of our ``COL=LEVEL`` term (factor(COL)LEVEL, or relevel(...)LEVEL)."""
    if "=" not in term:
        return term
    col, level = term.split("=", 1)
    if case["reference"] and case["reference"].startswith(col + "="):
        return f'relevel(factor({col}), ref = "{case["reference"].split("=")[1]}"){level}'
    return f"factor({col}){level}"


def _close(mine: float, theirs: float, what: str) -> None:
    assert mine == pytest.approx(theirs, rel=TOL, abs=1e-12), what


@pytest.mark.parametrize("case", REF["cox"], ids=[c["id"] for c in REF["cox"]])
def test_cox_matches_r_coxph(case):
    res = _fit(case)
    assert (res.n, res.events) == (case["n"], case["events"])
    assert [_r_term(t.term, case) for t in res.coefficients] == [c["term"] for c in case["coefficients"]]
    for mine, theirs in zip(res.coefficients, case["coefficients"]):
        for k in ("coef", "se", "hr", "hr_low", "hr_high", "z", "p"):
            _close(getattr(mine, k), theirs[k], f"{mine.term} {k}")
    for name, test in (("likelihood_ratio", res.likelihood_ratio), ("wald", res.wald), ("score", res.score)):
        _close(test.statistic, case["tests"][name]["statistic"], name)
        assert test.df == case["tests"][name]["df"]
        _close(test.p, case["tests"][name]["p"], f"{name} p")
    _close(res.loglik[0], case["loglik"][0], "null log-likelihood")
    _close(res.loglik[1], case["loglik"][1], "log-likelihood")
    _close(res.concordance, case["concordance"], "concordance")


@pytest.mark.parametrize("case", REF["cox"], ids=[c["id"] for c in REF["cox"]])
def test_the_ph_check_matches_r_cox_zph(case):
    res = _fit(case)
    names = [p.term for p in res.ph_test]
    assert names[-1] == "GLOBAL" and len(names) == len(case["ph_test"])
    for mine, theirs in zip(res.ph_test, case["ph_test"]):
        assert theirs["term"] in (mine.term, f"factor({mine.term})") or mine.term in theirs["term"]
        _close(mine.chisq, theirs["chisq"], f"zph {mine.term}")
        assert mine.df == theirs["df"]
        _close(mine.p, theirs["p"], f"zph {mine.term} p")
    first = case["covariates"][0]
    if len(next(cols for name, cols in [(n, c) for n, c in _assign(res)] if name == first)) == 1:
        # the scaled Schoenfeld residuals of a one-column term, as cox.zph's y (tied times in any order)
        mine = sorted(zip(res.zph_time, np.round(res.zph_residuals[0], 8)))
        theirs = sorted(zip(case["zph_time"], np.round(case["zph_y1"], 8)))
        assert [t for t, _ in mine] == [float(t) for t, _ in theirs]
        assert np.allclose([v for _, v in mine], [v for _, v in theirs], rtol=1e-6, atol=1e-7)


def _assign(res):
    out = {}
    for i, t in enumerate(res.coefficients):
        out.setdefault(t.term.split("=")[0], []).append(i)
    return list(out.items())


@pytest.mark.parametrize("case", REF["rmst"], ids=[c["id"] for c in REF["rmst"]])
def test_rmst_matches_r_survfit_rmean(case):
    rows = _rows(case["data"])
    res = rmst([float(r[case["time"]]) for r in rows], [float(r[case["event"]]) for r in rows],
               [r[case["group"]] for r in rows] if case["group"] else None, case["tau"])
    assert [g.group for g in res.groups] == [g["group"] for g in case["groups"]]
    for mine, theirs in zip(res.groups, case["groups"]):
        assert mine.n == theirs["n"]
        _close(mine.rmst, theirs["rmst"], "rmst")
        _close(mine.se, theirs["se"], "se(rmean)")
        assert mine.low == pytest.approx(mine.rmst - 1.959963984540054 * mine.se, rel=1e-12)


def test_the_rmst_difference_and_ratio_follow_their_formulas():
    rows = _rows("lung")
    res = rmst([float(r["time"]) for r in rows], [float(r["status"]) for r in rows], [r["sex"] for r in rows], 365)
    a, b = res.groups
    z = 1.959963984540054
    se = math.sqrt(a.se ** 2 + b.se ** 2)
    assert res.difference.estimate == pytest.approx(a.rmst - b.rmst)
    assert res.difference.low == pytest.approx(a.rmst - b.rmst - z * se)
    assert res.difference.p == pytest.approx(math.erfc(abs((a.rmst - b.rmst) / se) / math.sqrt(2)))
    log_se = math.sqrt((a.se / a.rmst) ** 2 + (b.se / b.rmst) ** 2)
    assert res.ratio.high == pytest.approx(a.rmst / b.rmst * math.exp(z * log_se))


def test_rmst_refuses_a_horizon_beyond_a_groups_follow_up():
    with pytest.raises(InputError, match="beyond the follow-up of group b"):
        rmst([10, 20, 30, 5, 8], [1, 0, 1, 1, 0], ["a", "a", "a", "b", "b"], tau=9)
    with pytest.raises(InputError, match="positive"):
        rmst([10, 20], [1, 0], None, tau=float("nan"))
    assert rmst([10, 20, 30, 5, 8], [1, 0, 1, 1, 0], ["a", "a", "a", "b", "b"], tau=8).groups[1].rmst == 5 + 3 * 0.5


def test_a_group_with_no_events_is_not_estimable_not_a_huge_number():
    time = [5, 8, 12, 20, 25, 30, 40, 41, 50, 60]
    status = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    group = ["at risk"] * 5 + ["not flagged"] * 5  # no events in "not flagged"
    res = cox_model(time, status, {"flag": group}, ["flag"])
    term = res.term("flag=not flagged")
    assert not term.estimable and term.hr is None and term.coef is None
    assert "no events in flag = not flagged" in term.reason
    assert any("not estimable" in w for w in res.warnings) and res.wald.statistic is None
    assert res.likelihood_ratio.statistic > 0 and res.score.statistic > 0  # still defined, as in R
    assert res.to_dict()["coefficients"][0]["not_estimable"]


def test_complete_separation_by_a_number_is_not_estimable():
    time = list(range(1, 21))
    status = [1] * 20
    x = list(range(20, 0, -1))  # the higher x, the earlier the event, always
    res = cox_model(time, status, {"x": x}, ["x"])
    assert not res.coefficients[0].estimable and "monotone likelihood" in res.coefficients[0].reason


def test_events_per_variable_below_ten_is_warned():
    rows = _rows("ovarian")
    res = cox_model([float(r["futime"]) for r in rows], [int(r["fustat"]) for r in rows],
                    {c: [r[c] for r in rows] for c in ("age", "rx", "ecog_ps")}, ["age", "rx", "ecog_ps"])
    assert res.events_per_variable == pytest.approx(12 / 3)
    assert any("4.0 events per variable" in w for w in res.warnings)


def test_the_reference_level_and_term_names():
    rows = _rows("veteran")
    cols = {"celltype": [r["celltype"] for r in rows]}
    t, s = [float(r["time"]) for r in rows], [int(r["status"]) for r in rows]
    default = cox_model(t, s, cols, ["celltype"])
    assert [x.term for x in default.coefficients] == ["celltype=large", "celltype=smallcell", "celltype=squamous"]
    chosen = cox_model(t, s, cols, ["celltype"], reference={"celltype": "squamous"})
    assert [x.term for x in chosen.coefficients] == ["celltype=adeno", "celltype=large", "celltype=smallcell"]
    # the same model, so the same likelihood; and adeno against squamous is the inverse of squamous against adeno
    assert chosen.loglik[1] == pytest.approx(default.loglik[1], rel=1e-10)
    assert chosen.term("celltype=adeno").hr == pytest.approx(1 / default.term("celltype=squamous").hr, rel=1e-8)
    with pytest.raises(InputError, match="reference level 'none'"):
        cox_model(t, s, cols, ["celltype"], reference={"celltype": "none"})
    with pytest.raises(InputError, match="not among the covariates"):
        cox_model(t, s, cols, ["celltype"], reference={"karno": "50"})


def test_without_ties_efron_and_breslow_agree():
    rng = np.random.default_rng(3)
    t = rng.exponential(100, 60).round(6) + np.arange(60) * 1e-3
    s = (rng.random(60) < 0.7).astype(int)
    x = rng.normal(size=60)
    a = cox_model(t, s, {"x": x}, ["x"], ties="efron")
    b = cox_model(t, s, {"x": x}, ["x"], ties="breslow")
    assert a.coefficients[0].coef == pytest.approx(b.coefficients[0].coef, rel=1e-10)


def _brute_concordance(time, status, risk, stratum):
    conc = disc = tied = 0
    n = len(time)
    for i in range(n):
        if not status[i]:
            continue
        for j in range(n):
            if j == i or stratum[i] != stratum[j]:
                continue
            later = time[j] > time[i] or (time[j] == time[i] and not status[j])
            if not later:
                continue
            if risk[i] > risk[j]:
                conc += 1
            elif risk[i] < risk[j]:
                disc += 1
            else:
                tied += 1
    return (conc + tied / 2) / (conc + disc + tied) if conc + disc + tied else None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 8), st.booleans(), st.integers(0, 4), st.integers(0, 1)), min_size=2, max_size=25))
def test_concordance_equals_a_brute_force_count(rows):
    time = np.array([r[0] for r in rows], float)
    status = np.array([r[1] for r in rows], float)
    risk = np.array([r[2] for r in rows], float)
    stratum = np.array([r[3] for r in rows])
    mine = concordance(time, status, risk, stratum)
    theirs = _brute_concordance(time, status, risk, stratum)
    assert (mine is None and theirs is None) or mine == pytest.approx(theirs, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_model_does_not_depend_on_the_order_of_the_rows(rnd):
    rows = _rows("lung")[:120]
    order = list(range(len(rows)))
    rnd.shuffle(order)
    shuffled = [rows[i] for i in order]

    def fit(rs):
        return cox_model([float(r["time"]) for r in rs], [int(r["status"]) for r in rs],
                         {"age": [r["age"] for r in rs], "sex": [r["sex"] for r in rs]}, ["age", "sex"])

    a, b = fit(rows), fit(shuffled)
    for x, y in zip(a.coefficients, b.coefficients):
        assert x.coef == pytest.approx(y.coef, rel=1e-9) and x.se == pytest.approx(y.se, rel=1e-9)
    assert a.concordance == pytest.approx(b.concordance, rel=1e-12)
    assert [p.chisq for p in a.ph_test] == pytest.approx([p.chisq for p in b.ph_test], rel=1e-8)


def test_cox_refuses_what_it_cannot_fit():
    with pytest.raises(InputError, match="no events"):
        cox_model([1, 2, 3], [0, 0, 0], {"x": [1, 2, 3]}, ["x"])
    with pytest.raises(InputError, match="one level only"):
        cox_model([1, 2, 3], [1, 0, 1], {"g": ["a", "a", "a"]}, ["g"])
    with pytest.raises(InputError, match="efron or breslow"):
        cox_model([1, 2, 3], [1, 0, 1], {"x": [1, 2, 3]}, ["x"], ties="exact")


def test_a_landmark_keeps_those_event_free_beyond_it_and_counts_from_it():
    rows = _rows("lung")
    t = [float(r["time"]) for r in rows]
    e = [float(r["status"]) for r in rows]
    g = [r["sex"] for r in rows]
    res = kaplan_meier(t, e, g, "log", landmark=180)
    kept = [(ti - 180, ei, gi) for ti, ei, gi in zip(t, e, g) if ti > 180]
    assert res.landmark == 180 and res.landmark_excluded == len(rows) - len(kept) == res.excluded
    # the same as Kaplan-Meier of the kept rows with time from the landmark, computed here without the landmark
    plain = kaplan_meier([k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept], "log")
    assert [x.median.value for x in res.groups] == [x.median.value for x in plain.groups]
    assert res.logrank.chi2 == pytest.approx(plain.logrank.chi2)
    assert res.to_dict()["landmark"] == 180
    lifelines = pytest.importorskip("lifelines")
    female = [k for k in kept if k[2] == "female"]
    km = lifelines.KaplanMeierFitter().fit([k[0] for k in female], [k[1] for k in female])
    assert res.group("female").median.value == pytest.approx(km.median_survival_time_)


def _cli(*args: str) -> dict:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tdm1core", *args, "--json"], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_command_line_prints_the_cox_contract_with_r_s_numbers():
    case = next(c for c in REF["cox"] if c["id"] == "veteran_strata_breslow")
    d = _cli("cox", str(FIX / "cox_veteran.csv"), "--time", "time", "--event", "status", "--covariates",
             "karno,age,trt", "--strata", "celltype", "--ties", "breslow")
    assert {"n", "events", "ties", "coefficients", "tests", "concordance", "ph_test", "warnings"} <= set(d)
    assert d["n"] == case["n"] and d["ties"] == "breslow"
    for mine, theirs in zip(d["coefficients"], case["coefficients"]):
        assert set(mine) >= {"term", "coef", "se", "hr", "hr_low", "hr_high", "z", "p"}
        assert mine["hr_low"] == pytest.approx(theirs["hr_low"], rel=TOL)
    assert d["tests"]["score"]["statistic"] == pytest.approx(case["tests"]["score"]["statistic"], rel=TOL)
    assert d["ph_test"][-1]["term"] == "GLOBAL"
    assert d["ph_test"][-1]["chisq"] == pytest.approx(case["ph_test"][-1]["chisq"], rel=TOL)


def test_the_command_line_prints_the_rmst_contract_and_a_landmark():
    case = next(c for c in REF["rmst"] if c["id"] == "veteran_trt_200")
    d = _cli("rmst", str(FIX / "cox_veteran.csv"), "--time", "time", "--event", "status", "--group", "trt", "--tau", "200")
    assert d["tau"] == 200 and [g["group"] for g in d["groups"]] == ["standard", "test"]
    assert d["groups"][0]["se"] == pytest.approx(case["groups"][0]["se"], rel=TOL)
    assert set(d["difference"]) >= {"groups", "estimate", "low", "high", "p"} and set(d["ratio"]) >= {"estimate", "low", "high"}
    km = _cli("km", str(FIX / "cox_lung.csv"), "--time", "time", "--event", "status", "--group", "sex", "--landmark", "90")
    rows = _rows("lung")
    assert km["landmark"] == 90 and km["excluded"] == sum(float(r["time"]) <= 90 for r in rows)
    assert sum(g["n"] for g in km["groups"]) == sum(float(r["time"]) > 90 for r in rows)
