"""Limits of blank and detection (CLSI EP17-A2) and each sample's detection limit, against values worked out by hand
here and against scipy's Poisson distribution."""
from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from scipy import stats

import tdm1core.calling.limits as limits
@pytest.mark.parametrize("c", range(1, 11))
def test_lambda95_against_scipy(c):
    lam = limits.lambda95(c)
    assert stats.poisson.sf(c - 1, lam) == pytest.approx(0.95, abs=1e-9)  # P(X >= c) = 0.95
    assert lam == pytest.approx(stats.gamma.ppf(0.95, c), abs=1e-8)  # the same as Gamma(c, 1)'s 95th percentile


def test_the_issue_numbers():
    assert limits.lambda95(3) == pytest.approx(6.2958, abs=1e-4)
    assert limits.detectable_vaf(200, 3) == pytest.approx(6.2958 / 200, abs=1e-6)  # ≈ 3.1 %
    assert limits.detectable_vaf(4000, 3) == pytest.approx(0.00157, abs=1e-5)  # ≈ 0.16 %
    assert limits.lambda95(2.5) == limits.lambda95(3)  # a whole number of copies ≥ 2.5 is ≥ 3
    assert limits.detectable_vaf(0, 3) is None and limits.detectable_vaf(None, 3) is None


@pytest.mark.parametrize("x", [0, 1, 2, 5, 20])
def test_poisson_upper_limit_against_scipy(x):
    assert limits.poisson_upper_limit(x) == pytest.approx(stats.chi2.ppf(0.95, 2 * (x + 1)) / 2, abs=1e-8)
    if x == 0:
        assert limits.poisson_upper_limit(0) == pytest.approx(-math.log(0.05), abs=1e-10)


@hsettings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.floats(0.01, 80))
def test_poisson_tail_property(count, lam):
    assert limits.poisson_at_least(count, lam) == pytest.approx(stats.poisson.sf(count - 1, lam), abs=1e-9)


def test_lob_when_every_blank_is_zero():
    # the study's case: 10 healthy-volunteer wells, no positive droplet among 10 × 15,000
    lob = limits.limit_of_blank("E545K", [0.0] * 10, droplets=[15_000] * 10, positives=[0] * 10)
    assert lob.all_zero and lob.nonparametric == 0 and lob.parametric == 0
    assert lob.rank == 10.0 and not lob.rank_capped  # 0.5 + 10 × 0.95 = 10: the 10th of 10
    assert lob.upper_rate_per_droplet == pytest.approx(2.995732 / 150_000, rel=1e-6)
    assert lob.upper_copies_per_well == pytest.approx(2.995732 / 150_000 * 20_000 / 0.85, rel=1e-6)  # ≈ 0.47
    assert "every blank was zero" in lob.describe()
    lod = limits.limit_of_detection(lob)
    assert lod.lod == pytest.approx(2.995732, abs=1e-5) and "Poisson" in lod.method


def test_lob_with_a_few_positive_droplets_and_the_small_n_rank_rule():
    blanks = [0, 0, 1.3, 0, 0, 2.6]  # N = 6: rank 0.5 + 5.7 = 6.2 > 6, so the largest blank is the LoB
    lob = limits.limit_of_blank("H1047R", blanks, droplets=[16_000] * 6, positives=[0, 0, 1, 0, 0, 2])
    assert lob.nonparametric == 2.6 and lob.rank == pytest.approx(6.2) and lob.rank_capped
    mean, sd = sum(blanks) / 6, statistics.stdev(blanks)
    # by hand: deviations 4 × 0.65² + 0.65² + 1.95² = 5.915; / 5 = 1.183; √1.183 = 1.087658
    assert (mean, sd) == (pytest.approx(0.65), pytest.approx(1.087658, abs=1e-6))
    assert lob.parametric == pytest.approx(0.65 + 1.645 * 1.087658, abs=1e-6)
    assert lob.upper_rate_per_droplet == pytest.approx(stats.chi2.ppf(0.95, 8) / 2 / 96_000, rel=1e-8)  # 3 positives
    lod = limits.limit_of_detection(lob)  # floor(2.6) + 1 = 3 copies
    assert lod.lod == pytest.approx(6.2958, abs=1e-4)


def test_lob_with_many_blanks_interpolates_between_ranks():
    blanks = [0.0] * 50 + [0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0]  # N = 60, sorted as written
    # rank 0.5 + 60 × 0.95 = 57.5: halfway between the 57th (2.5) and the 58th (3.0) value
    lob = limits.limit_of_blank("E542K", blanks)
    assert lob.rank == pytest.approx(57.5) and lob.nonparametric == pytest.approx(2.75)
    assert lob.total_droplets is None and lob.upper_rate_per_droplet is None
    low = [4.1, 5.0, 3.2, 6.3, 4.4]
    lod = limits.limit_of_detection(lob, low)
    assert lod.lod == pytest.approx(2.75 + 1.645 * statistics.stdev(low)) and lod.n_low_positives == 5


def test_rank_rule_of_twenty():
    values = list(range(1, 21))  # rank 19.5: between 19 and 20
    assert limits.nonparametric_percentile(values, 0.95)[0] == pytest.approx(19.5)


def test_her2_support_for_the_cut_off():
    ratios = [0.92, 1.01, 0.97, 1.05, 0.99, 1.10, 0.95, 1.02, 0.98, 1.00]
    s = limits.her2_support(ratios, 1.25)
    assert s.n == 10 and s.mean == pytest.approx(statistics.mean(ratios))
    assert s.sd == pytest.approx(statistics.stdev(ratios)) and s.p99 == 1.10 and s.p99_rank_capped
    assert "above it" in s.describe()
