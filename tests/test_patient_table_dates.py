"""Patient tables: dates are never guessed, formulas without values are refused, IDs are compared as people read them,
and receptor status has one vocabulary everywhere."""
import datetime as dt
import io

import pandas as pd
import pytest

from test_cohort import csv_bytes, table
from tdm1core.stats.cohort import read_patient_table, validate_patients
from tdm1core.errors import CohortFormatError, InputError
from tdm1core.clinical.risk import RECEPTOR_SPELLINGS, parse_receptor
from tdm1core.settings import Settings


def problems_of(df: pd.DataFrame, settings: Settings = Settings()) -> str:
    with pytest.raises(CohortFormatError) as info:
        validate_patients(read_patient_table(csv_bytes(df)), "t.csv", settings=settings)
    return str(info.value)


def test_ambiguous_local_dates_are_rejected_cell_by_cell_without_a_date_order():
    df = table(tdm1_start_date=(0, "03/04/2016"))
    df.loc[1, "tdm1_start_date"] = "13/06/2016"
    df.loc[2, "tdm1_start_date"] = "4.3.2016"
    msg = problems_of(df)
    for row, value in ((2, "03/04/2016"), (3, "13/06/2016"), (4, "4.3.2016")):
        assert f"row {row}, column 'tdm1_start_date': '{value}' is ambiguous" in msg


@pytest.mark.parametrize("order,expected", [("DMY", dt.date(2016, 4, 3)), ("MDY", dt.date(2016, 3, 4))])
def test_local_dates_follow_the_date_order_setting_for_every_row(order, expected):
    df = table(tdm1_start_date=(0, "03/04/2016"))
    df["progression_or_last_followup_date"] = "11/12/2016"
    df["ttp_days"] = ""
    c = validate_patients(read_patient_table(csv_bytes(df)), settings=Settings(date_order=order))
    assert c.patients.loc[0, "tdm1_start_date"].date() == expected
    assert c.patients.loc[1, "progression_or_last_followup_date"].date() == (dt.date(2016, 12, 11) if order == "DMY" else dt.date(2016, 11, 12))


def test_trailing_text_two_digit_years_and_implausible_dates_each_have_their_own_cell():
    df = table(tdm1_start_date=(0, "2016-03-04xyz"))
    df.loc[1, "tdm1_start_date"] = "1900-01-01"
    df.loc[2, "tdm1_start_date"] = "04/03/16"
    future = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    extra = table().iloc[[0]].assign(patient_id="X9", progression_or_last_followup_date=future)
    df = pd.concat([df, extra], ignore_index=True)
    msg = problems_of(df, Settings(date_order="DMY"))
    assert "row 2, column 'tdm1_start_date': '2016-03-04xyz' is not a date in YYYY-MM-DD form" in msg
    assert "row 3, column 'tdm1_start_date': 1900-01-01 is before 1990" in msg
    assert "row 4, column 'tdm1_start_date': '04/03/16' has a two-digit year" in msg
    assert f"row 5, column 'progression_or_last_followup_date': {future} is in the future" in msg
    assert "row 5, column 'tdm1_start_date'" not in msg


def test_problems_are_listed_in_row_order():
    df = table()
    df = pd.concat([df, df], ignore_index=True)
    df["patient_id"] = [f"R{i}" for i in range(len(df))]
    df.loc[4, "stage"] = "stage 9"
    df.loc[2, "age"] = "old"
    df.loc[0, "first_response"] = "XX"
    df.loc[3, "tdm1_start_date"] = "2016-02-30"
    msg = problems_of(df)
    rows = [int(line.split("row ")[1].split(",")[0]) for line in msg.splitlines() if line.strip().startswith("- row")]
    assert rows == sorted(rows) == [2, 4, 5, 6]


def workbook_of(t: pd.DataFrame, cells: dict[tuple[int, str], object] | None = None) -> bytes:
    """The table as an .xlsx written by a script (openpyxl: no computed values are stored), with some cells replaced."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(t.columns))
    for _, r in t.iterrows():
        ws.append(list(r.values))
    for (row, column), value in (cells or {}).items():
        ws.cell(row=row, column=list(t.columns).index(column) + 1, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_excel_formula_without_a_cached_value_is_refused_with_its_cell():
    from openpyxl.utils import get_column_letter

    t = table()
    data = workbook_of(t, {(3, "age"): "=60+2"})  # written by a script: no computed value stored
    with pytest.raises(CohortFormatError) as info:
        read_patient_table(data, "script.xlsx")
    msg = str(info.value)
    letter = get_column_letter(list(t.columns).index("age") + 1)
    assert f"cell {letter}3 holds a formula with no computed value" in msg and "patient ID is blank" not in msg


def test_real_excel_date_cells_are_dates():
    t = table()
    data = workbook_of(t, {(r, "tdm1_start_date"): dt.datetime(2016, 3, 1) for r in range(2, len(t) + 2)})
    c = validate_patients(read_patient_table(data, "dates.xlsx"))
    assert c.patients.loc[0, "tdm1_start_date"].date() == dt.date(2016, 3, 1)


def test_ids_differing_by_case_or_invisible_spaces_are_duplicates():
    df = table(patient_id=(0, "T01"))
    df.loc[1, "patient_id"] = "t01"
    df.loc[2, "patient_id"] = "T01\u200b"
    msg = problems_of(df)
    assert "duplicate patient ID 'T01' and 't01' (rows 2, 3, 4)" in msg


def test_one_receptor_vocabulary_in_the_table_and_the_cli_page():
    for status, spellings in RECEPTOR_SPELLINGS.items():
        for spelling in spellings:
            df = table(er_status=(0, spelling))
            c = validate_patients(read_patient_table(csv_bytes(df)))
            assert c.patients.loc[0, "er_status"] == status == parse_receptor(spelling), spelling
    for word in ("yes", "true", "p", "y"):
        with pytest.raises(InputError):
            parse_receptor(word)
        assert "unknown value" in problems_of(table(er_status=(0, word)))
