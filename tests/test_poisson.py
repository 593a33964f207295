"""Poisson maths against Bio-Rad's own exported numbers and as properties."""
import csv
import math

import pytest
from hypothesis import given, settings as hsettings, strategies as st

import tdm1core.measuring.poisson as poisson
def test_concentration_is_bio_rads_formula():
    # -ln(Nneg/N)/V with V = 0.85 nL: SMN2 A01 FAM exports 898.375854492188 (float32)
    assert poisson.concentration(10940, 20486, 0.85) == pytest.approx(898.375854492188, rel=1e-7)


def test_wald_interval_reproduces_qx_manager_poisson_conf():
    ci = poisson.concentration_ci(10940, 20486, 0.85)
    assert ci.low == pytest.approx(881.25439453125, rel=1e-6)
    assert ci.high == pytest.approx(915.750244140625, rel=1e-6)


def test_low_count_interval_is_the_hpd_interval_quantasoft_exports():
    # ddpcr_formats.md §5.3: x = 25 of 18604 droplets exports 1.03831 / 2.28902
    ci = poisson.concentration_ci(25, 18604, 0.85)
    assert ci.low == pytest.approx(1.03831, rel=5e-5)
    assert ci.high == pytest.approx(2.28902, rel=5e-5)
    assert "HPD" in ci.method


def test_zero_positives_give_zero_and_the_minus_log_alpha_upper_limit():
    ci = poisson.concentration_ci(0, 20000, 0.85)
    assert ci.low == 0.0
    assert ci.high == pytest.approx(-math.log(1 - 2.995732 / 20000) / 0.00085, rel=1e-6)


def test_saturated_well_has_infinite_concentration_and_the_documented_lower_limit():
    n = 20000
    assert poisson.concentration(n, n, 0.85) == math.inf
    ci = poisson.concentration_ci(n, n, 0.85)
    assert ci.high == math.inf
    assert ci.low == pytest.approx(-math.log(2.995732 / n) / 0.00085, rel=1e-6)


def test_every_qx_manager_row_reproduces_its_exported_intervals(shared_ddpcr):
    path = shared_ddpcr / "qxmanager_daattali_quant" / "quant.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    checked = 0
    for r in rows:
        pos, n = int(r["Positives"]), int(r["Accepted Droplets"])
        ci = poisson.concentration_ci(pos, n, 0.85)
        assert ci.low == pytest.approx(float(r["PoissonConfMin"]), rel=2e-6)
        assert ci.high == pytest.approx(float(r["PoissonConfMax"]), rel=2e-6)
        checked += 1
    assert checked == 12


def test_ratio_interval_reproduces_qx_manager_poisson_ratio(shared_ddpcr):
    path = shared_ddpcr / "qxmanager_daattali_quant" / "quant.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    by_well: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_well.setdefault(r["Well"], {})[r["TargetType"]] = r
    for well, pair in by_well.items():
        t, ref = pair["Unknown"], pair["Reference"]
        ct = poisson.concentration(int(t["Positives"]), int(t["Accepted Droplets"]), 0.85)
        cr = poisson.concentration(int(ref["Positives"]), int(ref["Accepted Droplets"]), 0.85)
        ratio, ci = poisson.ratio_ci(ct, poisson.concentration_ci(int(t["Positives"]), int(t["Accepted Droplets"]), 0.85),
                                     cr, poisson.concentration_ci(int(ref["Positives"]), int(ref["Accepted Droplets"]), 0.85))
        assert ratio == pytest.approx(float(t["Ratio"]), rel=2e-6), well
        assert ci.low == pytest.approx(float(t["PoissonRatioMin"]), rel=2e-6), well
        assert ci.high == pytest.approx(float(t["PoissonRatioMax"]), rel=2e-6), well


counts = st.integers(min_value=1000, max_value=25000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1)))


@hsettings(max_examples=200, deadline=None)
@given(counts)
def test_concentration_grows_with_positives(nx):
    n, x = nx
    assert poisson.concentration(x + 1, n, 0.85) > poisson.concentration(x, n, 0.85)


@hsettings(max_examples=200, deadline=None)
@given(counts, st.sampled_from([0.9, 0.95, 0.99]))
def test_interval_contains_the_estimate_and_is_ordered(nx, level):
    n, x = nx
    c = poisson.concentration(x, n, 0.85)
    ci = poisson.concentration_ci(x, n, 0.85, level)
    assert 0 <= ci.low <= c <= ci.high


@hsettings(max_examples=200, deadline=None)
@given(counts, counts)
def test_ratio_interval_contains_the_ratio(a, b):
    (n1, x1), (n2, x2) = a, b
    x2 = max(x2, 1)
    ct, cr = poisson.concentration(x1, n1, 0.85), poisson.concentration(x2, n2, 0.85)
    ratio, ci = poisson.ratio_ci(ct, poisson.concentration_ci(x1, n1, 0.85), cr, poisson.concentration_ci(x2, n2, 0.85))
    assert ci.low <= ratio <= ci.high
    assert ratio == pytest.approx(ct / cr)


@hsettings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=150), st.sampled_from([0.9, 0.95]))
def test_hpd_interval_has_its_coverage_and_equal_density_ends(x, level):
    from scipy import stats

    lo, hi = poisson.gamma_hpd(x, level)
    dist = stats.gamma(x + 1)
    assert dist.cdf(hi) - dist.cdf(lo) == pytest.approx(level, abs=1e-8)
    if x > 0:
        assert dist.pdf(lo) == pytest.approx(dist.pdf(hi), rel=1e-6)
