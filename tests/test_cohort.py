"""Patient tables: template round trip, every error listed at once, derived variables, ctDNA join."""
import io

import pandas as pd
import pytest

from tdm1core.stats.cohort import load_cohort, read_patient_table, template_frame, validate_patients
from tdm1core.reading.exports import read_export
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.errors import CohortFormatError


def table(**overrides) -> pd.DataFrame:
    t = template_frame()
    rows = []
    for i in range(3):
        r = t.iloc[0].to_dict()
        r["patient_id"] = f"X{i}"
        r["ctdna_sample_id"] = ""
        r["ttp_days"] = ""
        rows.append(r)
    df = pd.DataFrame(rows)
    for key, (row, value) in overrides.items():
        df.loc[row, key] = value
    return df


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def test_template_validates_and_derives():
    c = validate_patients(read_patient_table(csv_bytes(table())))
    p = c.patients.iloc[0]
    assert p["ttp_days"] == 198 and p["progression_event"] == 1
    assert p["hr_group"] == "ER and/or PR positive" and p["tdm1_line"] == "second line or earlier"
    assert p["primary_resistance"] == "no"


def test_xlsx_is_read_like_csv():
    buf = io.BytesIO()
    table().to_excel(buf, index=False)
    c = load_cohort(buf.getvalue(), "p.xlsx")
    assert c.n == 3 and c.patients["stage"].iloc[0] == "recurrent"


def test_all_errors_are_listed_at_once_with_rows_and_columns():
    df = table(stage=(0, "stage five"), tdm1_start_date=(1, "2017-02-30"), patient_id=(2, "X0"), age=(1, "abc"))
    with pytest.raises(CohortFormatError) as info:
        validate_patients(read_patient_table(csv_bytes(df)), "p.csv")
    msg = str(info.value)
    assert "4 problem(s)" in msg
    assert "row 2, column 'stage': unknown value 'stage five'; allowed values: de novo stage IV, recurrent" in msg
    assert "row 3, column 'tdm1_start_date'" in msg and "2017-02-30" in msg
    assert "duplicate patient ID 'X0'" in msg and "rows 2, 4" in msg
    assert "row 3, column 'age': expected a whole number" in msg


def test_negative_time_is_rejected():
    df = table(progression_or_last_followup_date=(0, "2015-01-01"))
    with pytest.raises(CohortFormatError) as info:
        validate_patients(read_patient_table(csv_bytes(df)))
    assert "negative" in str(info.value) and "row 2" in str(info.value)


def test_missing_columns_name_them():
    df = table().drop(columns=["best_response", "age"])
    with pytest.raises(CohortFormatError) as info:
        validate_patients(read_patient_table(csv_bytes(df)))
    assert "age, best_response" in str(info.value)


@pytest.mark.parametrize("data,words", [(b"", "empty"), (b"\x00\x01\x02" * 50, "binary"), (b"PK\x03\x04garbage", "Excel workbook cannot be read")])
def test_unreadable_files(data, words):
    with pytest.raises(CohortFormatError) as info:
        load_cohort(data, "bad.csv")
    assert words in str(info.value)


def test_ttp_days_must_agree_with_dates():
    df = table(ttp_days=(0, "150"))
    with pytest.raises(CohortFormatError) as info:
        validate_patients(read_patient_table(csv_bytes(df)))
    assert "disagrees with the dates" in str(info.value)


def test_missing_receptor_is_unknown_not_negative():
    df = table(er_status=(0, ""), pr_status=(0, "negative"))
    c = validate_patients(read_patient_table(csv_bytes(df)))
    assert c.patients["hr_group"].iloc[0] is None


def test_demo_cohort_joins_ctdna_and_reports_unmatched():
    export = read_export(demo_export_path())
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[0, "ctdna_sample_id"] = "P99"
    c = load_cohort(csv_bytes(df), "demo.csv", [export])
    assert c.missing_samples == ("P99",)
    assert c.unmatched_samples == ("P01",)
    assert c.n_ctdna == 15


def test_demo_cohort_matches_table1_and_table2():
    c = load_cohort((DEMO_DIR / "demo_patients.csv").read_bytes(), "demo.csv", [read_export(demo_export_path())])
    df = c.patients
    assert c.n == 34 and c.n_ctdna == 16
    assert df["age"].median() == 62 and df["age"].min() == 38 and df["age"].max() == 84
    assert (df["stage"] == "de novo stage IV").sum() == 9
    assert (df["her2_primary"] == "IHC 3+").sum() == 30
    assert df["prior_lines_group"].value_counts().to_dict() == {"1": 15, "3": 6, "2": 4, ">=5": 4, "4": 3, "0": 2}
    counts = {"prior_trastuzumab": 29, "prior_taxane": 20, "prior_pertuzumab": 15, "prior_capecitabine": 15,
              "prior_hormonal": 12, "prior_lapatinib": 11, "prior_vinorelbine": 7, "prior_s1": 4, "prior_eribulin": 3,
              "prior_cyclophosphamide": 2, "prior_other": 4}
    for col, k in counts.items():
        assert (df[col] == "yes").sum() == k, col
    assert df["best_response"].value_counts().to_dict() == {"SD": 13, "PD": 9, "PR": 7, "NE": 3, "CR": 2}
    assert (df["adjuvant_endocrine"] == "yes").sum() == 10
    resistant = set(df.loc[(df["primary_resistance"] == "yes") & (df["ctdna_available"] == "yes"), "ctdna_sample_id"])
    assert resistant == {"P03", "P06", "P11", "P14"}
    assert set(df.loc[df["ctdna_sample_id"].isin(resistant), "flag"]) == {"at risk"}


from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from tdm1core.errors import InputError  # noqa: E402


@hsettings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_patient_table_reader_raises_only_input_errors_on_arbitrary_bytes(data):
    try:
        load_cohort(data, "fuzz.csv")
    except InputError:
        pass


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=",;\"\n 0123456789-abcyesnoPDSR+", max_size=60), max_size=6))
def test_mangled_patient_tables_raise_only_input_errors(lines):
    base = csv_bytes(table()).decode().splitlines()
    try:
        load_cohort("\n".join(base[:1] + lines + base[1:]).encode(), "fuzz.csv")
    except InputError:
        pass
