"""Descriptive tables: Table 1 (characteristics), Table 2 (best response), Table 3 (ctDNA per patient)."""
from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from ..cohort import PRIOR_THERAPIES, Cohort

__all__ = ["table1", "table2", "table3", "TABLE1_LABELS"]

TABLE1_LABELS = {
    "age": "Age, years", "stage": "Stage IV or recurrent", "pathology": "Pathology",
    "her2_primary": "HER2 status of primary site", "hr_group": "Hormone receptor status",
    "adjuvant_chemotherapy": "Neoadjuvant or adjuvant chemotherapy", "adjuvant_endocrine": "Neoadjuvant or adjuvant endocrine therapy",
    "prior_lines_group": "Prior lines of chemotherapy for metastatic disease before T-DM1",
    **{k: f"Prior therapy: {v}" for k, v in PRIOR_THERAPIES.items()},
}
_YESNO = ["adjuvant_endocrine", *PRIOR_THERAPIES]


def table1(cohort: Cohort) -> pd.DataFrame:
    """Table 1: n (%) for categories, median [min, max] for age (tableone's layout).

    Columns: characteristic, group, value. Yes/no variables show the "yes" row only.
    """
    df = cohort.patients
    if len(df) == 0:
        return pd.DataFrame(columns=["characteristic", "group", "value"])
    from tableone import TableOne

    data = df[list(TABLE1_LABELS)].copy()
    data["age"] = data["age"].astype(float)
    for col in data.columns:
        if col != "age":
            data[col] = data[col].astype(object).where(data[col].notna(), None)
    categorical = [c for c in TABLE1_LABELS if c != "age"]
    present_yes = [c for c in _YESNO if (data[c] == "yes").any()]
    order = {c: ["yes", "no"] for c in present_yes}
    from ..cohort import SCHEMA

    for f in SCHEMA:
        if f.name in data.columns and f.kind == "category":
            present = set(data[f.name].dropna())
            order[f.name] = [v for v in f.allowed if v in present]
    order["hr_group"] = [v for v in ("ER and/or PR positive", "ER and PR negative") if v in set(data["hr_group"].dropna())]
    order["prior_lines_group"] = [v for v in ["0", "1", "2", "3", "4", ">=5"] if v in set(data["prior_lines_group"].dropna())]
    if len(data) > TABLEONE_MAX_ROWS:
        return _table1_fast(data, order, present_yes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = TableOne(data, columns=list(TABLE1_LABELS), categorical=categorical, nonnormal=["age"], min_max=["age"],
                     decimals={"age": 0}, order=order, limit={c: 1 for c in present_yes}, missing=False,
                     rename=TABLE1_LABELS).tableone
    rows = []
    for (name, level), value in t.iloc[:, 0].items():
        label = name.split(", n (%)")[0].split(", median [min,max]")[0]
        if name == "n":
            rows.append({"characteristic": "Patients, n", "group": "", "value": str(value)})
            continue
        if name.endswith("median [min,max]"):
            value = str(value).replace("[", "(").replace("]", ")").replace(",", "–")
            rows.append({"characteristic": label, "group": "median (range)", "value": value})
            continue
        rows.append({"characteristic": label, "group": level, "value": str(value)})
    return pd.DataFrame(rows)


TABLEONE_MAX_ROWS = 5_000


def _table1_fast(data: pd.DataFrame, order: dict[str, list[str]], yes_only: list[str]) -> pd.DataFrame:
    """The same layout as tableone's (tested equal), vectorised for large cohorts."""
    rows = [{"characteristic": "Patients, n", "group": "", "value": str(len(data))}]
    age = data["age"].dropna()
    rows.append({"characteristic": TABLE1_LABELS["age"], "group": "median (range)",
                 "value": f"{age.median():.0f} ({age.min():.0f}–{age.max():.0f})"})
    for col, label in TABLE1_LABELS.items():
        if col == "age":
            continue
        counts = data[col].value_counts(dropna=True)
        total = int(counts.sum())
        levels = order.get(col) or sorted(counts.index)
        if col in yes_only:
            levels = levels[:1]
        for level in levels:
            k = int(counts.get(level, 0))
            rows.append({"characteristic": label, "group": level, "value": f"{k} ({100 * k / total:.1f})"})
    return pd.DataFrame(rows)


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

    ``calls``: ``SampleCalls`` or the stored calls table (:func:`tdm1core.calls.calls_table`), for the copies."""
    from ..calls import CALL_TABLE_COLUMNS, calls_table

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
