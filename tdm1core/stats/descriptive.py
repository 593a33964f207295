"""Descriptive tables: Table 1 (characteristics), Table 2 (best response), Table 3 (ctDNA per patient)."""
from __future__ import annotations

from typing import Any

import pandas as pd

from tdm1core.stats.cohort import PRIOR_THERAPIES, Cohort
from tdm1core.clinical.risk import HR_NEGATIVE, HR_POSITIVE

__all__ = ["table1", "table1_order", "table2", "table3", "TABLE1_LABELS"]

TABLE1_LABELS = {
    "age": "Age, years", "stage": "Stage IV or recurrent", "pathology": "Pathology",
    "her2_primary": "HER2 status of primary site", "hr_group": "Hormone receptor status",
    "adjuvant_chemotherapy": "Neoadjuvant or adjuvant chemotherapy", "adjuvant_endocrine": "Neoadjuvant or adjuvant endocrine therapy",
    "prior_lines_group": "Prior lines of chemotherapy for metastatic disease before T-DM1",
    **{k: f"Prior therapy: {v}" for k, v in PRIOR_THERAPIES.items()},
}
_YESNO = ["adjuvant_endocrine", *PRIOR_THERAPIES]


def table1(cohort: Cohort) -> pd.DataFrame:
    """Table 1: n (%) for categories, median (range) for age; the study's layout (also tableone's, with which the
    tests check it equal). Columns: characteristic, group, value. Yes/no variables show the "yes" row only.

    Vectorised (value counts per column), so a 100,000-patient registry takes well under a second."""
    df = cohort.patients
    if len(df) == 0:
        return pd.DataFrame(columns=["characteristic", "group", "value"])
    data = df[list(TABLE1_LABELS)]
    yes_only = [c for c in _YESNO if (data[c] == "yes").any()]
    order = table1_order(data)
    rows = [{"characteristic": "Patients, n", "group": "", "value": str(len(data))}]
    age = pd.to_numeric(data["age"], errors="coerce").dropna()
    rows.append({"characteristic": TABLE1_LABELS["age"], "group": "median (range)",
                 "value": f"{age.median():.0f} ({age.min():.0f}–{age.max():.0f})" if len(age) else "not recorded"})
    for col, label in TABLE1_LABELS.items():
        if col == "age":
            continue
        counts = data[col].value_counts(dropna=True)
        total = int(counts.sum())
        levels = order.get(col) or sorted(counts.index)
        if col in yes_only:
            levels = ["yes"]
        for level in levels:
            k = int(counts.get(level, 0))
            share = f"{100 * k / total:.1f}" if total else "–"  # a column no patient has a value in
            rows.append({"characteristic": label, "group": level, "value": f"{k} ({share})"})
    return pd.DataFrame(rows)


INDENT = "\u2003"  # an em space: a level under its characteristic, as tableone and the paper's Table 1 print it


def table1_for_reading(t1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 in two columns that fit a phone: a characteristic with several levels gets a row of its own, its
    levels indented under it; a characteristic with one row (patients, age, a yes/no item) keeps it on one line
    ("Age, years, median (range)"; a yes/no item reads as its name). Columns: Characteristic, Value. The same rows
    and values as ``table1`` (the downloads keep that long form)."""
    rows: list[dict[str, str]] = []
    for label, block in t1.groupby("characteristic", sort=False):
        groups = [str(g) for g in block["group"]]
        values = [str(v) for v in block["value"]]
        if len(block) == 1:
            group = groups[0]
            name = str(label) if group in ("", "yes") else f"{label}, {group}"
            rows.append({"Characteristic": name, "Value": values[0]})
            continue
        rows.append({"Characteristic": str(label), "Value": ""})
        rows.extend({"Characteristic": INDENT + g, "Value": v} for g, v in zip(groups, values))
    return pd.DataFrame(rows, columns=["Characteristic", "Value"])


def table1_order(data: pd.DataFrame) -> dict[str, list[str]]:
    """The order of each characteristic's levels: the data dictionary's, where present."""
    from tdm1core.stats.cohort import SCHEMA

    order: dict[str, list[str]] = {c: ["yes", "no"] for c in _YESNO}
    for f in SCHEMA:
        if f.name in data.columns and f.kind == "category":
            present = set(data[f.name].dropna())
            order[f.name] = [v for v in f.allowed if v in present]
    present_hr = set(data["hr_group"].dropna())
    order["hr_group"] = [v for v in (HR_POSITIVE, HR_NEGATIVE) if v in present_hr]
    present_lines = set(data["prior_lines_group"].dropna())
    order["prior_lines_group"] = [v for v in ["0", "1", "2", "3", "4", ">=5"] if v in present_lines]
    return order


def table2(cohort: Cohort) -> pd.DataFrame:
    """Table 2: best response to T-DM1 (RECIST 1.1) with %, and the response rate CR + PR."""
    df = cohort.patients
    n = len(df)
    counts = df["best_response"].value_counts()

    def row(label: str, k: int) -> dict:
        return {"response": label, "n": int(k), "percent": round(100 * k / n, 1) if n else float("nan")}

    cr, pr = int(counts.get("CR", 0)), int(counts.get("PR", 0))
    rows = [row("CR + PR (response rate)", cr + pr), row("CR", cr), row("PR", pr), row("SD", int(counts.get("SD", 0))),
            row("PD", int(counts.get("PD", 0))), row("Unknown (NE)", int(counts.get("NE", 0)) + int(df["best_response"].isna().sum())),
            {"response": "Total", "n": n, "percent": 100.0 if n else float("nan")}]
    return pd.DataFrame(rows)


def table3(cohort: Cohort, calls: Any = None) -> pd.DataFrame:
    """Table 3: ctDNA per patient (HER2 ratio, mutant / wild-type copies per hotspot, calls).

    ``calls``: ``SampleCalls`` or the stored calls table (:func:`tdm1core.calling.calls.calls_table`), for the copies."""
    from tdm1core.calling.calls import CALL_TABLE_COLUMNS, calls_table

    df = cohort.patients
    have = df[df["ctdna_available"] == "yes"]
    out = pd.DataFrame({"patient_id": have["patient_id"].to_numpy(), "sample": have["ctdna_sample_id"].to_numpy(),
                        "her2_ratio": have["her2_ratio"].to_numpy(), "her2_call": have["her2_ctdna"].to_numpy()})
    copies = [c for c in CALL_TABLE_COLUMNS if c.endswith((" MUT", " WT"))]
    if calls is not None and len(calls):
        table = calls_table(calls)
        table = table.assign(sample=table["sample"].astype(str).str.strip()).drop_duplicates("sample", keep="last")
        key = pd.DataFrame({"sample": out["sample"].astype(str).str.strip()})
        found = key.merge(table[["sample", *copies]], on="sample", how="left")
        for c in copies:
            out[c] = pd.to_numeric(found[c], errors="coerce").to_numpy(dtype=float)
    out["pik3ca"] = have["pik3ca_ctdna"].to_numpy()
    out["primary_resistance"] = have["primary_resistance"].to_numpy()
    out["flag"] = have["flag"].to_numpy()
    return out
