"""The study's statistics on the demo cohort reproduce the published numbers; Fisher matches R."""
import math
from pathlib import Path

import pandas as pd
import pytest

from compare import assert_same_values
from tdm1core.stats.cohort import load_cohort
from tdm1core.reading.exports import read_export
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.settings import Settings
from tdm1core.stats import analyse_cohort, fisher, km_by
from tdm1core.stats.contingency import performance, threshold_table

REF = pd.read_csv(Path(__file__).parent / "fixtures" / "r" / "reference_values.csv", dtype=str, keep_default_na=False)


def r_fisher(name):
    sel = REF[(REF.dataset == "fisher") & (REF.group == name)]
    return float(sel["value"].iloc[0])


@pytest.fixture(scope="module")
def demo():
    return load_cohort((DEMO_DIR / "demo_patients.csv").read_bytes(), "demo.csv", [read_export(demo_export_path())])


@pytest.mark.parametrize("name,table", [
    ("hr", [[6, 11], [3, 14]]), ("her2", [[0, 5], [4, 7]]), ("pik3ca", [[2, 0], [2, 12]]),
    ("pertuzumab", [[5, 10], [4, 15]]), ("stage", [[2, 7], [7, 18]]), ("anthracycline", [[3, 8], [6, 17]]),
    ("rxc", [[3, 1, 4], [2, 6, 1], [0, 3, 5]]),
])
def test_fisher_matches_r(name, table):
    assert fisher(table).p_value == pytest.approx(r_fisher(name), rel=1e-6)


# published Table 4 p-values (rounded as printed)
PUBLISHED = {"Hormone receptor status": 0.438, "T-DM1 line": 0.438, "HER2 gene amplification in ctDNA": 0.245,
             "PIK3CA mutation in ctDNA": 0.05, "Prior pertuzumab": 0.462, "De novo stage IV or recurrent": 1,
             "Prior anthracycline": 1, "Prior lapatinib": 1}
PUBLISHED_COUNTS = {("Hormone receptor status", "ER and/or PR positive"): (17, 6), ("Hormone receptor status", "ER and PR negative"): (17, 3),
                    ("T-DM1 line", "second line or earlier"): (17, 3), ("T-DM1 line", "later than second line"): (17, 6),
                    ("De novo stage IV or recurrent", "de novo stage IV"): (9, 2), ("De novo stage IV or recurrent", "recurrent"): (25, 7),
                    ("Prior anthracycline", "yes"): (11, 3), ("Prior anthracycline", "no"): (23, 6),
                    ("Prior pertuzumab", "yes"): (15, 5), ("Prior pertuzumab", "no"): (19, 4),
                    ("Prior lapatinib", "yes"): (11, 3), ("Prior lapatinib", "no"): (23, 6),
                    ("HER2 gene amplification in ctDNA", "positive"): (5, 0), ("HER2 gene amplification in ctDNA", "negative"): (11, 4),
                    ("PIK3CA mutation in ctDNA", "mutation positive"): (2, 2), ("PIK3CA mutation in ctDNA", "mutation negative"): (14, 2)}


def test_table4_reproduces_the_published_counts_and_p_values(demo):
    t4 = analyse_cohort(demo).table4
    for (char, group), (n, r) in PUBLISHED_COUNTS.items():
        row = t4[(t4.characteristic == char) & (t4.group == group)].iloc[0]
        assert (row.n, row.resistant) == (n, r), (char, group)
    for char, p in PUBLISHED.items():
        got = t4[t4.characteristic == char]["p_value"].iloc[0]
        assert round(got, 3 if p < 1 else 0) == pytest.approx(p), char


def test_table2_counts(demo):
    t2 = analyse_cohort(demo).table2.set_index("response")["n"].to_dict()
    assert t2 == {"CR + PR (response rate)": 9, "CR": 2, "PR": 7, "SD": 13, "PD": 9, "Unknown (NE)": 3, "Total": 34}


def test_table1_has_the_published_rows(demo):
    t1 = analyse_cohort(demo).table1
    val = {(r.characteristic, r.group): r.value for r in t1.itertuples()}
    assert val[("Age, years", "median (range)")] == "62 (38–84)"
    assert val[("Stage IV or recurrent", "de novo stage IV")] == "9 (26.5)"
    assert val[("Prior therapy: Trastuzumab", "yes")] == "29 (85.3)"
    assert val[("Prior lines of chemotherapy for metastatic disease before T-DM1", ">=5")] == "4 (11.8)"


def test_table1_for_reading_nests_levels_under_their_characteristic(demo):
    """Issue 11 (phone): two columns; a characteristic with several levels is a heading row with its levels indented
    under it, a one-row characteristic stays on one line; no value is lost or changed."""
    from tdm1core.stats.descriptive import INDENT, table1_for_reading

    t1 = analyse_cohort(demo).table1
    t = table1_for_reading(t1)
    assert list(t.columns) == ["Characteristic", "Value"]
    rows = list(zip(t["Characteristic"], t["Value"]))
    assert rows[:2] == [("Patients, n", "34"), ("Age, years, median (range)", "62 (38–84)")]
    i = rows.index(("Stage IV or recurrent", ""))
    assert rows[i + 1:i + 3] == [(INDENT + "de novo stage IV", "9 (26.5)"), (INDENT + "recurrent", "25 (73.5)")]
    assert ("Prior therapy: Trastuzumab", "29 (85.3)") in rows  # a yes/no item reads as its name
    # every value of the long form, in its order, and one heading row per characteristic with several levels
    assert [v for v in t["Value"] if v] == list(t1["value"])
    multi = t1.groupby("characteristic", sort=False).size()
    assert (t["Value"] == "").sum() == (multi > 1).sum()


def test_table4_for_reading_prints_the_paper_layout_with_the_same_counts(demo):
    """Issue 11 (phone): Table 4 in three columns; each characteristic's p-value on its heading row, its levels
    indented under it as resistant/n (percent); every count of the long form, recomputed here from the patients."""
    from tdm1core.stats import table4, table4_for_reading
    from tdm1core.stats.descriptive import INDENT

    t4 = table4(demo, ["pathology"])
    t = table4_for_reading(t4)
    assert list(t.columns) == ["Characteristic", "Primary resistance, n/N (%)", "p (Fisher)"]
    rows = [tuple(r) for r in t.itertuples(index=False)]
    df = demo.patients
    resistant = df["primary_resistance"] == "yes"
    assert rows[0] == ("All patients", f"{resistant.sum()}/{len(df)} ({100 * resistant.sum() / len(df):.1f})", "")
    i = rows.index(("Hormone receptor status", "", "0.438"))  # the published p = 0.438
    pos = df["hr_group"] == "ER and/or PR positive"
    k, n = int((resistant & pos).sum()), int(pos.sum())
    assert rows[i + 1] == (INDENT + "ER and/or PR positive", f"{k}/{n} ({100 * k / n:.1f})", "") and (k, n) == (6, 17)
    assert ("PIK3CA mutation in ctDNA", "", "0.050") in rows
    assert any(r[0] == "Pathology" and r[1] == "" for r in rows)  # an extra characteristic, by its label
    # one level row per long-form row but "All patients", one heading per characteristic with several levels
    levels = [r for r in rows if r[0].startswith(INDENT)]
    assert len(levels) == len(t4) - 1
    assert [r[1] for r in levels] == [f"{k}/{n} ({100 * k / n:.1f})" for k, n in zip(t4["resistant"][1:], t4["n"][1:])]
    assert sum(1 for r in rows if r[1] == "") == t4["characteristic"].nunique() - 1


def test_km_medians_for_reading_fit_a_phone_and_carry_the_published_values(demo):
    """Issue 11 (phone): four columns; the study's medians (56.6 days, 95% CI 36-NA; 318, 187-NA) with NA for a
    limit not reached; the CI level in the header follows the setting."""
    t = km_by(demo, "flag").medians_for_reading().set_index("Group")
    assert list(t.columns) == ["n", "Events", "Median, days (95% CI)"]
    assert t.loc["at risk", "Median, days (95% CI)"] == "56.6 (36.0–NA)"
    assert t.loc["not flagged", "Median, days (95% CI)"] == "318.0 (187.0–NA)"
    assert int(t["n"].astype(int).sum()) == 16  # the 16 patients with ctDNA
    assert t.loc["at risk", "n"] == str(int((demo.patients["flag"] == "at risk").sum()))
    t90 = km_by(demo, "flag", Settings(confidence_level=0.9)).medians_for_reading()
    assert list(t90.columns)[-1] == "Median, days (90% CI)"


def test_km_medians_by_flag_reproduce_the_study(demo):
    km = km_by(demo, "flag")
    at_risk, other = km.group("at risk"), km.group("not flagged")
    assert at_risk.median.value == pytest.approx(56.6)
    assert at_risk.median.ci.low == 36 and math.isnan(at_risk.median.ci.high)
    assert other.median.value == 318 and other.median.ci.low == 187 and math.isnan(other.median.ci.high)
    assert round(km.logrank.p, 3) == pytest.approx(0.004)  # published 0.0037
    assert km.ci_method == "log-log"


def test_ci_method_setting_changes_the_median_ci(demo):
    km = km_by(demo, "flag", Settings(km_ci_method="log"))
    assert km.group("at risk").median.ci.low == 52  # R survfit(conf.type="log") on the same data
    assert km.ci_method == "log"


def test_flag_performance_with_exact_intervals(demo):
    p = performance(demo)
    assert (p.tp, p.fp, p.fn, p.tn) == (4, 1, 0, 11)
    # Clopper-Pearson for 4/4: lower = (0.025)^(1/4)
    assert p.sensitivity.ci.low == pytest.approx(0.025 ** 0.25, rel=1e-9)
    assert p.ppv.value == pytest.approx(0.8)
    assert "Small-sample" in p.caveat


def test_threshold_table_includes_the_study_cutoff(demo):
    t = threshold_table(demo)
    row = t[t.her2_cutoff == 1.25].iloc[0]
    assert (row.tp, row.fp) == (4, 1)
    assert t[t.her2_cutoff == 1.2].iloc[0].tp == 3  # patient 14 (ratio 1.23) is no longer flagged


def test_filter_keeps_statistics_consistent(demo):
    sub = demo.filter(hr_group=["ER and/or PR positive"])
    assert sub.n == 17
    t4 = analyse_cohort(sub).table4
    assert t4.iloc[0]["resistant"] == 6


def test_user_picked_column_in_table4(demo):
    t4 = analyse_cohort(demo, table4_columns=["pathology"]).table4
    assert set(t4[t4.characteristic == "Pathology"]["group"]) == {"invasive ductal carcinoma", "medullary carcinoma", "poorly differentiated adenocarcinoma"}


def _table1_by_tableone(cohort):
    """Table 1 computed independently by tableone (the test's oracle), in the app's layout."""
    import warnings

    from tableone import TableOne

    from tdm1core.stats.descriptive import _YESNO, TABLE1_LABELS, table1_order

    data = cohort.patients[list(TABLE1_LABELS)].copy()
    data["age"] = data["age"].astype(float)
    for col in data.columns:
        if col != "age":
            data[col] = data[col].astype(object).where(data[col].notna(), None)
    present_yes = [c for c in _YESNO if (data[c] == "yes").any()]
    order = table1_order(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = TableOne(data, columns=list(TABLE1_LABELS), categorical=[c for c in TABLE1_LABELS if c != "age"],
                     nonnormal=["age"], min_max=["age"], decimals={"age": 0}, order=order,
                     limit={c: 1 for c in present_yes}, missing=False, rename=TABLE1_LABELS).tableone
    rows = []
    for (name, level), value in t.iloc[:, 0].items():
        label = name.split(", n (%)")[0].split(", median [min,max]")[0]
        if name == "n":
            rows.append({"characteristic": "Patients, n", "group": "", "value": str(value)})
        elif name.endswith("median [min,max]"):
            rows.append({"characteristic": label, "group": "median (range)",
                         "value": str(value).replace("[", "(").replace("]", ")").replace(",", "–")})
        else:
            rows.append({"characteristic": label, "group": level, "value": str(value)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n", [34, 3000])
def test_table1_equals_tableone(demo, n):
    from dataclasses import replace

    import numpy as np

    from tdm1core.stats import descriptive

    rng = np.random.default_rng(n)
    cohort = demo if n == 34 else replace(demo, patients=demo.patients.iloc[rng.integers(0, 34, n)].reset_index(drop=True))
    pd.testing.assert_frame_equal(descriptive.table1(cohort), _table1_by_tableone(cohort))


from hypothesis import example, given, settings as hyp_settings, strategies as hs  # noqa: E402


@hyp_settings(max_examples=150, deadline=None)
@given(hs.integers(1, 5000), hs.floats(0, 1), hs.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_equals_scipy_binomtest(n, frac, level):
    from scipy import stats

    from tdm1core.stats.contingency import _prop

    k = round(frac * n)
    ours = _prop(k, n, level).ci
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    assert ours.low == pytest.approx(ref.low, abs=1e-9) and ours.high == pytest.approx(ref.high, abs=1e-9)


@hyp_settings(max_examples=300, deadline=None)
@given(hs.integers(1, 100_000), hs.floats(0, 1), hs.floats(1e-4, 1 - 1e-4))
@example(n=96433, frac=0.4817305015160006, p=0.5)
def test_beta_distribution_and_quantile_equal_scipy_at_registry_size(n, frac, p):
    """The plain-Python incomplete beta and its inverse (no scipy import for a cohort) against scipy.special.

    The quantile (what the Clopper-Pearson limits are) agrees to 1e-11. The distribution function is compared to
    1e-9: at a, b ~ 50,000 its prefactor's exponent is about -7e4, whose rounding alone moves it by ~1e-11."""
    from scipy.special import betainc, betaincinv

    from tdm1core.measuring.special import beta_cdf, beta_quantile

    a = max(1, round(frac * n))
    b = n - a + 1
    x = beta_quantile(p, a, b)
    assert x == pytest.approx(float(betaincinv(a, b, p)), abs=1e-11)
    assert beta_cdf(x, a, b) == pytest.approx(float(betainc(a, b, x)), abs=1e-9)


def test_the_json_of_the_statistics_equals_their_dict(demo):
    """cohort --json piped uses pandas' encoder for the tables; it must say exactly what to_dict says."""
    import json

    st = analyse_cohort(demo)
    fast, slow = json.loads(st.to_json(n=demo.n)), json.loads(json.dumps(st.to_dict(), default=str))
    slow["n"] = demo.n

    assert_same_values(fast, slow)


@hyp_settings(max_examples=200, deadline=None)
@given(hs.lists(hs.integers(0, 400), min_size=4, max_size=4))
def test_fisher_2x2_equals_scipy(cells):
    from scipy import stats

    from tdm1core.stats.contingency import fisher

    table = [cells[:2], cells[2:]]
    import numpy as np

    arr = np.asarray(table)
    ours = fisher(table).p_value
    if (arr.sum(axis=0) == 0).any() or (arr.sum(axis=1) == 0).any():
        assert math.isnan(ours)  # a margin of zero: no test
    else:
        assert ours == pytest.approx(min(1.0, stats.fisher_exact(arr).pvalue), abs=1e-10)


def test_table1_of_a_cohort_with_a_column_no_patient_has_a_value_in():
    """A cohort imported from a record that gives no age and no adjuvant endocrine therapy (FHIR, issue 29): Table 1 says so, it does
    not divide by zero."""
    import pandas as pd

    from tdm1core.demo import DEMO_DIR
    from tdm1core.stats.cohort import validate_patients
    from tdm1core.stats.descriptive import table1

    raw = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).head(3)
    raw["age"], raw["adjuvant_endocrine"] = "", ""
    t1 = table1(validate_patients(raw, "t"))
    age = t1[t1["characteristic"].str.startswith("Age")]["value"].iloc[0]
    assert age == "not recorded"
    endocrine = t1[t1["characteristic"] == "Neoadjuvant or adjuvant endocrine therapy"]["value"].tolist()
    assert endocrine == ["0 (–)", "0 (–)"]
