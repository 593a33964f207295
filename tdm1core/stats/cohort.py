"""Patient tables: the schema, loading (CSV/XLSX), validation, derived variables and the ctDNA join.

A table with errors is rejected whole, with every error listed at once
(row numbers are spreadsheet rows: the header is row 1).

Derived variables
-----------------
* ``primary_resistance``: "yes" when the first RECIST 1.1 evaluation is PD, "no" for CR/PR/SD, missing for NE.
* ``ttp_days`` / ``progression_event``: days from T-DM1 start to progression (event) or last follow-up (censored).
* ``hr_group``: "ER and/or PR positive" / "ER and PR negative" (missing when undecidable).
* ``tdm1_line``: "second line or earlier" (0-1 prior lines for metastatic disease) / "later than second line".
* ctDNA (joined on ``ctdna_sample_id``): ``her2_ratio``, ``her2_ctdna``, ``pik3ca_ctdna``, ``flag``.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from tdm1core.errors import CohortFormatError, Problem
from tdm1core.clinical.risk import HR_NEGATIVE, HR_POSITIVE, RECEPTOR_SPELLINGS, flag_statuses, hormone_receptor_group
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.reading.textfile import clean_id, decode_text, decode_unicode, id_key, sniff_delimiter, unsafe_characters, visible

__all__ = [
    "Field", "SCHEMA", "Cohort", "read_patient_table", "validate_patients", "load_cohort", "attach_ctdna",
    "template_frame", "data_dictionary", "normalised_table", "column_label", "PRIOR_THERAPIES", "RESPONSES", "MAX_TABLE_BYTES", "CATEGORICAL_DERIVED",
]

MAX_TABLE_BYTES = 64 * 1024 * 1024  # a 100,000-patient registry table is ~25 MB; the app upload limit is 10 MB
MAX_LISTED = 200
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
YES_NO = ("yes", "no")
PRIOR_THERAPIES = {
    "prior_trastuzumab": "Trastuzumab", "prior_taxane": "Taxane", "prior_pertuzumab": "Pertuzumab",
    "prior_capecitabine": "Capecitabine", "prior_hormonal": "Hormonal therapy", "prior_lapatinib": "Lapatinib",
    "prior_vinorelbine": "Vinorelbine", "prior_s1": "S-1", "prior_eribulin": "Eribulin",
    "prior_cyclophosphamide": "Cyclophosphamide", "prior_anthracycline": "Anthracycline (any setting)",
    "prior_other": "Others",
}
ADJUVANT_REGIMENS = (
    "none", "anthracycline followed by taxane + trastuzumab", "taxane + trastuzumab", "trastuzumab without chemotherapy",
    "anthracycline followed by trastuzumab", "anthracycline followed by taxane", "taxane", "UFT + trastuzumab", "CMF",
    "doxifluridine", "other",
)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # id, int, category, yesno, date, text
    description: str
    example: str
    allowed: tuple[str, ...] = ()
    required: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    minimum: int | None = None
    maximum: int | None = None
    optional_column: bool = False  # may be left out of the header


_RECEPTOR_ALIASES = {spelling: status for status, spellings in RECEPTOR_SPELLINGS.items() for spelling in spellings if spelling}
_RECEPTOR_WORDS = "Accepted: " + "; ".join(f"{k}: {', '.join(x for x in v if x)}" for k, v in RECEPTOR_SPELLINGS.items()) + " (or blank)."

SCHEMA: tuple[Field, ...] = (
    Field("patient_id", "Patient ID", "id", "Pseudonymous patient identifier (no names, no hospital numbers); unique.", "D01", required=True),
    Field("age", "Age, years", "int", "Age at the start of T-DM1, in whole years.", "62", minimum=18, maximum=110),
    Field("stage", "Stage IV or recurrent", "category", "De novo stage IV at diagnosis, or recurrent disease.", "recurrent",
          ("de novo stage IV", "recurrent"),
          aliases={"stage iv": "de novo stage IV", "stage 4": "de novo stage IV", "iv": "de novo stage IV",
                   "de novo": "de novo stage IV", "primary stage iv": "de novo stage IV", "recurrence": "recurrent"}),
    Field("pathology", "Pathology", "category", "Histology of the primary tumour.", "invasive ductal carcinoma",
          ("invasive ductal carcinoma", "invasive lobular carcinoma", "medullary carcinoma",
           "poorly differentiated adenocarcinoma", "other"), aliases={"idc": "invasive ductal carcinoma", "ilc": "invasive lobular carcinoma"}),
    Field("her2_primary", "HER2 status of primary site", "category", "IHC 3+, or IHC 2+ with FISH positive.", "IHC 3+",
          ("IHC 3+", "IHC 2+ and FISH+"), aliases={"3+": "IHC 3+", "ihc3+": "IHC 3+", "2+ fish+": "IHC 2+ and FISH+",
                                                    "ihc 2+/fish+": "IHC 2+ and FISH+", "ihc2+fish+": "IHC 2+ and FISH+"}),
    Field("er_status", "ER status", "category", "Oestrogen receptor: positive when >= 10% of tumour cells stain. "
          + _RECEPTOR_WORDS, "positive", ("positive", "negative", "unknown"), aliases=_RECEPTOR_ALIASES),
    Field("pr_status", "PR status", "category", "Progesterone receptor: positive when >= 10% of tumour cells stain. "
          + _RECEPTOR_WORDS, "negative", ("positive", "negative", "unknown"), aliases=_RECEPTOR_ALIASES),
    Field("adjuvant_chemotherapy", "Neoadjuvant or adjuvant chemotherapy", "category", "Regimen before recurrence ('none' if none).",
          "taxane + trastuzumab", ADJUVANT_REGIMENS),
    Field("adjuvant_endocrine", "Neoadjuvant or adjuvant endocrine therapy", "yesno", "yes / no.", "no", YES_NO),
    Field("prior_lines", "Prior lines of chemotherapy for metastatic disease", "int",
          "Number of chemotherapy lines for metastatic disease before T-DM1 (maintenance anti-HER2 not counted).", "1", minimum=0, maximum=30),
    *(Field(name, f"Prior {label.lower()}", "yesno", f"{label} for metastatic disease before T-DM1"
            + (" (any setting, including adjuvant)" if name == "prior_anthracycline" else "") + ": yes / no.", "no", YES_NO)
      for name, label in PRIOR_THERAPIES.items()),
    Field("tdm1_start_date", "T-DM1 start date", "date", "First T-DM1 dose, YYYY-MM-DD (DD/MM/YYYY or MM/DD/YYYY only "
          "under the date_order setting), from 1990 on and not in the future.", "2016-03-01"),
    Field("first_response", "Response at first evaluation", "category", "RECIST 1.1 at the first evaluation: CR, PR, SD, PD or NE (not evaluable/unknown).", "SD", RESPONSES),
    Field("best_response", "Best response", "category", "Best RECIST 1.1 response to T-DM1: CR, PR, SD, PD or NE (unknown).", "PR", RESPONSES),
    Field("progression", "Progressed", "yesno", "yes: progression on the date below; no: censored at last follow-up on that date.", "yes", YES_NO),
    Field("progression_or_last_followup_date", "Date of progression or last follow-up", "date",
          "YYYY-MM-DD (as the start date); not before the T-DM1 start and not in the future.", "2016-09-15"),
    Field("ctdna_sample_id", "ctDNA sample ID", "text", "Sample name in the ddPCR export (blank when no ctDNA).", "P06"),
    Field("ttp_days", "Time to progression, days", "number",
          "Optional: days from T-DM1 start to progression or last follow-up when recorded directly (may be fractional); "
          "blank: computed from the two dates. Must agree with the dates within one day.", "198", minimum=0, maximum=20000,
          optional_column=True),
)
_BY_NAME = {f.name: f for f in SCHEMA}
_YES = {"yes", "y", "1", "true", "x"}
_NO = {"no", "n", "0", "false", ""}
_MISSING = {"", "na", "n/a", "nan", "none", "unknown", "missing", "nd", "."}
CATEGORICAL_DERIVED = {
    "primary_resistance": "Primary resistance", "hr_group": "Hormone receptor status", "tdm1_line": "T-DM1 line",
    "her2_ctdna": "HER2 gene amplification in ctDNA", "pik3ca_ctdna": "PIK3CA mutation in ctDNA", "flag": "Risk flag",
    "ctdna_available": "ctDNA available",
}


@dataclass(frozen=True)
class Cohort:
    """A validated patient table with derived variables (one row per patient)."""

    patients: pd.DataFrame
    source: str
    sha256: str | None = None
    unmatched_samples: tuple[str, ...] = ()  # in the exports, not in the table
    missing_samples: tuple[str, ...] = ()  # in the table, not in any export
    notes: tuple[str, ...] = ()
    settings: Settings = DEFAULT_SETTINGS

    @property
    def n(self) -> int:
        return len(self.patients)

    @property
    def n_ctdna(self) -> int:
        return int((self.patients["ctdna_available"] == "yes").sum())

    def categorical_columns(self) -> list[str]:
        """Columns a user can group by: schema categories, yes/no columns, derived groups and extra text columns."""
        cols = [f.name for f in SCHEMA if f.kind in ("category", "yesno")] + [c for c in CATEGORICAL_DERIVED if c in self.patients]
        extra = [c for c in self.patients.columns if c not in _BY_NAME and c not in _DERIVED_ALL and self.patients[c].dtype == object
                 and 1 < self.patients[c].nunique(dropna=True) <= 20]
        return list(dict.fromkeys(cols + extra))

    def ratio_points(self) -> pd.DataFrame:
        """HER2/EFTUD2 ratios of patients with ctDNA, grouped by primary resistance (for context plots)."""
        df = self.patients
        sub = df[df["her2_ratio"].notna() & df["primary_resistance"].notna()]
        return pd.DataFrame({"ratio": sub["her2_ratio"].to_numpy(),
                             "group": np.where(sub["primary_resistance"] == "yes", "primary resistance", "no primary resistance")})

    def filter(self, **criteria: Iterable[str] | None) -> "Cohort":
        """Keep patients whose column values are in the given collections (None or empty: no filter)."""
        df = self.patients
        mask = pd.Series(True, index=df.index)
        for col, values in criteria.items():
            if values:
                mask &= df[col].isin(list(values))
        return Cohort(df[mask].reset_index(drop=True), self.source, self.sha256, self.unmatched_samples,
                      self.missing_samples, self.notes, self.settings)


def column_label(column: str) -> str:
    """What a person calls a column: the derived group's or the data dictionary's label, else the column name."""
    if column in CATEGORICAL_DERIVED:
        return CATEGORICAL_DERIVED[column]
    f = _BY_NAME.get(column)
    return f.label if f is not None else column


_DERIVED_ALL = set(CATEGORICAL_DERIVED) | {"progression_event", "her2_ratio", "prior_lines_group", "synthetic"}


def _problem(problems: list[Problem], row: int | None, column: str | None, message: str, value: Any = None) -> None:
    problems.append(Problem(message, row, column, None if value is None else str(value)))


def read_patient_table(data: bytes, name: str = "patients.csv") -> pd.DataFrame:
    """Read a CSV or XLSX patient table as strings (no type guessing)."""
    if not data or not data.strip():
        raise CohortFormatError("the file is empty.", source=name, hint="Download the template from the Settings page and fill it in.")
    if len(data) > MAX_TABLE_BYTES:
        raise CohortFormatError(f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_TABLE_BYTES / 1e6:.0f} MB.", source=name)
    if data[:4] == b"PK\x03\x04":
        frame = _read_xlsx_table(data, name)
    else:
        unicode = decode_unicode(data)
        if unicode is None and b"\x00" in data[:65536]:
            raise CohortFormatError("the file is binary, not a CSV or XLSX table.", source=name,
                                    hint="Save the table as CSV (comma separated) or .xlsx.")
        text = unicode[0] if unicode is not None else decode_text(data, name)[0]
        if "\x00" in text:
            raise CohortFormatError("the file holds NUL characters; it is not a text table.", source=name,
                                    hint="Save the table as CSV (comma separated) or .xlsx.")
        lines = text.splitlines()
        sep = sniff_delimiter(lines[0] if lines else "")
        if lines and lines[0].count(sep) + 1 > MAX_TABLE_COLUMNS:
            raise CohortFormatError(f"the header has {lines[0].count(sep) + 1:,} columns; the limit is {MAX_TABLE_COLUMNS}.",
                                    source=name, row=1, hint="A patient table has about 30 columns; check the delimiter.")
        if len(lines) > MAX_TABLE_ROWS + 1:
            raise CohortFormatError(f"the table has {len(lines) - 1:,} rows; the limit is {MAX_TABLE_ROWS:,}.", source=name)
        try:
            with warnings.catch_warnings():
                # a row with more fields than the header would silently lose its extra cells: refuse it
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep, index_col=False)
            _check_unique_header(next(csv.reader([lines[0]], delimiter=sep)) if lines else [], name)
        except pd.errors.ParserWarning:
            raise CohortFormatError("a row has more fields than the header, so its values would be lost or shifted.",
                                    source=name, hint="Check the delimiter and that every row has as many fields as the header.") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise CohortFormatError(f"the CSV cannot be read ({str(exc).splitlines()[0]}).", source=name,
                                    hint="Check that every row has as many fields as the header.") from exc
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    frame = frame.apply(lambda s: s.astype(str).str.strip())
    frame = frame.mask(frame.isin(_NAN_SPELLINGS), "")  # one rule, every column: 'nan' (any case) is missing
    frame = frame.loc[~(frame == "").all(axis=1)].reset_index(drop=True)
    return frame


_ISO = r"\d{4}-\d{2}-\d{2}"
_LOCAL = r"(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})"
EARLIEST_START = pd.Timestamp("1990-01-01")


_NAN_SPELLINGS = sorted({a + b + c for a in "nN" for b in "aA" for c in "nN"})
MAX_TABLE_COLUMNS = 300
MAX_TABLE_ROWS = 200_000


def _xlsx_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _read_xlsx_table(data: bytes, name: str) -> pd.DataFrame:
    """The first sheet as text; real date cells become YYYY-MM-DD; a formula with no computed value is refused."""
    from openpyxl.utils import get_column_letter

    from tdm1core.reading.workbook import check_zip, open_workbook

    def fail(message: str, source: str, **kw: Any) -> CohortFormatError:
        return CohortFormatError(message, source=source, hint=kw.get("hint") or "Save it again from Excel as .xlsx, or as CSV.")

    check_zip(data, name, fail)
    values_wb = open_workbook(data, name, fail)
    formulas_wb = open_workbook(data, name, fail, data_only=False)
    problems: list[Problem] = []
    try:
        ws_v, ws_f = values_wb.worksheets[0], formulas_wb.worksheets[0]
        rows: list[list[str]] = []
        for r, (vals, forms) in enumerate(zip(ws_v.iter_rows(values_only=True), ws_f.iter_rows(values_only=True)), start=1):
            if r > MAX_TABLE_ROWS + 1:
                raise CohortFormatError(f"the sheet has more than {MAX_TABLE_ROWS:,} rows (the limit).", source=name)
            if len(vals) > MAX_TABLE_COLUMNS:
                raise CohortFormatError(f"the sheet has {len(vals):,} columns; the limit is {MAX_TABLE_COLUMNS}.", source=name)
            row = []
            for c, (v, f) in enumerate(zip(vals, forms), start=1):
                if v is None and isinstance(f, str) and f.startswith("="):
                    problems.append(Problem(f"cell {get_column_letter(c)}{r} holds a formula with no computed value ({f[:40]}): "
                                            "open and save the file in Excel, or paste values.", r,
                                            str(rows[0][c - 1]) if rows and c - 1 < len(rows[0]) else None))
                row.append(_xlsx_value(v))
            rows.append(row)
    finally:
        values_wb.close()
        formulas_wb.close()
    if problems:
        raise CohortFormatError(f"{len(problems)} formula cell(s) have no computed value; nothing was loaded.", source=name,
                                problems=problems[:MAX_LISTED],
                                hint="Files written by scripts carry formulas without results: open and save them in Excel.")
    if not rows:
        raise CohortFormatError("the workbook's first sheet is empty.", source=name)
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    header = [h if h else f"column_{i + 1}" for i, h in enumerate(rows[0])]
    _check_unique_header(header, name)
    _check_merged_cells(data, name)
    return pd.DataFrame(rows[1:], columns=header, dtype=str)


def _check_unique_header(header: list[str], name: str) -> None:
    """Two columns with one name (as read: case, spaces and underscores folded) would leave one of them unread."""
    seen: dict[str, int] = {}
    for i, h in enumerate(header, start=1):
        key = str(h).strip().lower().replace(" ", "_")
        if key in seen:
            raise CohortFormatError(f"columns {seen[key]} and {i} are both named {visible(str(h).strip())}; one of them "
                                    "would be ignored.", source=name, row=1, column=str(h).strip(),
                                    hint="Rename or remove one of the two columns.")
        seen[key] = i


def _check_merged_cells(data: bytes, name: str) -> None:
    """Merged cells below the header of the first sheet: Excel keeps the value in the first cell only, so the other
    rows would read blank (an ER status merged over three patients gives two blank ones)."""
    from tdm1core.reading.workbook import first_sheet_merged_ranges

    ranges = [r for r in first_sheet_merged_ranges(data) if not _header_only(r)]
    if ranges:
        raise CohortFormatError(f"the sheet has merged cells in its data ({', '.join(ranges[:10])}): only the first cell "
                                "of each keeps its value, so the other rows would read blank.", source=name,
                                hint="Unmerge the cells and fill in every row's value (Excel: Merge & Center > Unmerge).")


def _header_only(ref: str) -> bool:
    rows = [int(n) for n in re.findall(r"[A-Z]+(\d+)", ref)]
    return bool(rows) and max(rows) <= 1


def _parse_dates(values: pd.Series, rows: pd.Series, column: str, date_order: str | None,
                 problems: list[Problem]) -> pd.Series:
    """Dates are never guessed: ISO ``YYYY-MM-DD`` (nothing after it) or real Excel date cells always; ``DD/MM/YYYY``,
    ``DD.MM.YYYY`` or ``MM/DD/YYYY`` only under the ``date_order`` setting, for every row alike."""
    text = values.fillna("")
    iso = text.str.fullmatch(_ISO)
    parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")
    local = text.str.extract("^" + _LOCAL + "$")
    is_local = local[0].notna()
    for idx in text.index[is_local]:
        d, m, y = (local.at[idx, k] for k in (0, 1, 2))
        r, v = int(rows[idx]), text[idx]
        if len(y) != 4:
            _problem(problems, r, column, f"{v!r} has a two-digit year; write the year in full (YYYY-MM-DD).", v)
            continue
        if date_order is None:
            _problem(problems, r, column, f"{v!r} is ambiguous (day/month or month/day?); use YYYY-MM-DD, or set date_order "
                     "to DMY or MDY for the whole table.", v)
            continue
        day, month = (int(d), int(m)) if date_order == "DMY" else (int(m), int(d))
        try:
            parsed[idx] = pd.Timestamp(dt.date(int(y), month, day))
        except ValueError:
            _problem(problems, r, column, f"{v!r} is not a valid date read as {date_order}.", v)
    other = ~iso & ~is_local & ~text.str.lower().isin(_MISSING)
    for r, v in zip(rows[other], text[other]):
        _problem(problems, int(r), column, f"{v!r} is not a date in YYYY-MM-DD form (nothing may follow the date).", v)
    bad_iso = iso & parsed.isna()
    for r, v in zip(rows[bad_iso], text[bad_iso]):
        _problem(problems, int(r), column, f"{v!r} is not a valid date (impossible dates such as 2017-02-30 are rejected).", v)
    return parsed


def _check_ids(col: pd.Series, rows: pd.Series, problems: list[Problem]) -> pd.Series:
    """IDs are required and unique, where IDs that read the same (NFKC, case, invisible characters and spaces
    ignored: :func:`tdm1core.reading.textfile.id_key`) are the same; control and bidirectional characters are refused."""
    for r, v in zip(rows, col):
        bad = unsafe_characters(v)
        if bad:
            _problem(problems, int(r), "patient_id", f"the patient ID {visible(v)} holds control or bidirectional "
                     f"character(s) {', '.join(dict.fromkeys(bad))}, which hide or reorder text; type the ID again.", v)
    cleaned = col.map(clean_id)
    blank = cleaned == ""
    for r in rows[blank]:
        _problem(problems, int(r), "patient_id", "the patient ID is blank.")
    long = cleaned.str.len() > 100
    for r, v in zip(rows[long], cleaned[long]):
        _problem(problems, int(r), "patient_id", f"the patient ID is {len(v)} characters long (at most 100).", v[:40] + "…")
    keys = cleaned.map(id_key)
    dup = keys.duplicated(keep=False) & ~blank
    for _, group in rows[dup].groupby(keys[dup]):
        shown = " and ".join(visible(col[i]) for i in group.index[:2])
        _problem(problems, int(group.iloc[1]), "patient_id",
                 f"duplicate patient ID {shown} (rows {', '.join(map(str, group))}): IDs that differ only by case or "
                 "spaces are the same patient; IDs must be unique.", col[group.index[1]])
    return cleaned


def _check_numbers(f: Field, col: pd.Series, rows: pd.Series, problems: list[Problem]) -> pd.Series:
    low = col.str.lower()
    num = pd.to_numeric(col.where(~low.isin(_MISSING)), errors="coerce")
    bad = (num.isna() & ~low.isin(_MISSING))
    if f.kind == "int":
        bad |= num.notna() & (num != num.round())
    for r, v in zip(rows[bad], col[bad]):
        _problem(problems, int(r), f.name, f"expected a {'whole ' if f.kind == 'int' else ''}number, found {v!r}.", v)
    rng = num.notna() & ~bad & ((f.minimum is not None and num < f.minimum) | (f.maximum is not None and num > f.maximum))
    for r, v in zip(rows[rng], col[rng]):
        _problem(problems, int(r), f.name, f"{v} is outside the possible range {f.minimum}-{f.maximum}.", v)
    kept = num.where(~bad & ~rng)
    return kept.astype("Int64") if f.kind == "int" else kept.astype(float)


def _check_categories(f: Field, col: pd.Series, rows: pd.Series, problems: list[Problem]) -> pd.Series:
    canon = {a.lower(): a for a in f.allowed}
    canon.update({k.lower(): v for k, v in f.aliases.items()})
    if f.kind == "yesno":
        canon.update({k: "yes" for k in _YES})
        canon.update({k: "no" for k in _NO if k})
    # each distinct spelling is looked up once (a registry column holds 100,000 cells but a handful of values)
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    lows = [str(u).lower() for u in uniques]
    mapped = pd.Series(np.array([canon.get(u) for u in lows] + [None], dtype=object)[codes], index=col.index)
    is_missing = np.array([u in _MISSING for u in lows] + [False], dtype=bool)[codes]
    missing = pd.Series(is_missing, index=col.index) & mapped.isna()
    bad = mapped.isna() & ~missing
    for r, v in zip(rows[bad], col[bad]):
        _problem(problems, int(r), f.name, f"unknown value {v!r}; allowed values: {', '.join(f.allowed)} (or blank if unknown).", v)
    if f.name in ("er_status", "pr_status"):
        mapped = mapped.fillna("unknown")
    return mapped.where(mapped.notna(), None)


def _check_dates_plausible(out: pd.DataFrame, rows: pd.Series, problems: list[Problem]) -> None:
    start, end = out["tdm1_start_date"], out["progression_or_last_followup_date"]
    today = pd.Timestamp(dt.date.today())
    early = start.notna() & (start < EARLIEST_START)
    for r, v in zip(rows[early], start[early]):
        _problem(problems, int(r), "tdm1_start_date", f"{v.date()} is before 1990; T-DM1 was not given then (a typing error?).", v.date())
    for column, values in (("tdm1_start_date", start), ("progression_or_last_followup_date", end)):
        future = values.notna() & (values > today)
        for r, v in zip(rows[future], values[future]):
            _problem(problems, int(r), column, f"{v.date()} is in the future.", v.date())
    negative = start.notna() & end.notna() & (end < start)
    for r, s_, e in zip(rows[negative], start[negative], end[negative]):
        _problem(problems, int(r), "progression_or_last_followup_date",
                 f"{e.date()} is before the T-DM1 start {s_.date()}: time to progression would be negative.", e.date())


def _check_cross_fields(out: pd.DataFrame, rows: pd.Series, problems: list[Problem]) -> None:
    start, end = out["tdm1_start_date"], out["progression_or_last_followup_date"]
    by_dates = (end - start).dt.days
    disagree = out["ttp_days"].notna() & by_dates.notna() & ((out["ttp_days"] - by_dates).abs() >= 1)
    for r, v, d in zip(rows[disagree], out["ttp_days"][disagree], by_dates[disagree]):
        _problem(problems, int(r), "ttp_days", f"{v:g} days disagrees with the dates ({d:g} days apart); correct one of them or leave ttp_days blank.", v)
    prog_no_date = (out["progression"] == "yes") & end.isna() & out["ttp_days"].isna()
    for r in rows[prog_no_date]:
        _problem(problems, int(r), "progression_or_last_followup_date", "progression is 'yes' but the date is missing.")
    pd_first_not_best = (out["first_response"] == "PD") & out["best_response"].isin(["CR", "PR", "SD"])
    for r in rows[pd_first_not_best]:
        _problem(problems, int(r), "best_response", "the first evaluation is PD, so the best response cannot be CR, PR or SD.")


def _check_header(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    raw = raw.copy()
    for f in SCHEMA:
        if f.optional_column and f.name not in raw.columns:
            raw[f.name] = ""
    missing_cols = [f.name for f in SCHEMA if f.name not in raw.columns]
    if missing_cols:
        raise CohortFormatError(
            f"the header lacks column(s) {', '.join(missing_cols)}.", source=source, row=1,
            hint=f"The expected columns are: {', '.join(f.name for f in SCHEMA)}. Download the template from the Settings page.",
        )
    if len(raw) == 0:
        raise CohortFormatError("the table has a header but no patients.", source=source)
    return raw


def validate_patients(raw: pd.DataFrame, source: str = "patient table", sha256: str | None = None,
                      settings: Settings = DEFAULT_SETTINGS) -> Cohort:
    """Validate and type a raw patient table; derive the study's variables.

    A pipeline of small checks, each one concern: the header, IDs, numbers, categories, dates, plausible dates,
    cross-field rules. Every problem is collected; any problem rejects the table whole, listed by row.

    Raises
    ------
    CohortFormatError
        Listing every problem (row, column, value, allowed values), in row order.
    """
    problems: list[Problem] = []
    raw = _check_header(raw, source)
    rows = pd.Series(np.arange(len(raw)) + 2, index=raw.index)  # spreadsheet row numbers
    out = pd.DataFrame(index=raw.index)
    for f in SCHEMA:
        col = raw[f.name]
        if f.kind == "id":
            out[f.name] = _check_ids(col, rows, problems)
        elif f.kind == "text":
            out[f.name] = col.where(col != "", None)
        elif f.kind in ("int", "number"):
            out[f.name] = _check_numbers(f, col, rows, problems)
        elif f.kind in ("category", "yesno"):
            out[f.name] = _check_categories(f, col, rows, problems)
        elif f.kind == "date":
            out[f.name] = _parse_dates(col, rows, f.name, settings.date_order, problems)
    _check_dates_plausible(out, rows, problems)
    _check_cross_fields(out, rows, problems)
    if problems:
        problems.sort(key=lambda p: (p.row if p.row is not None else 0, [f.name for f in SCHEMA].index(p.column)
                                     if p.column in _BY_NAME else 99))
        shown = problems[:MAX_LISTED]
        more = len(problems) - len(shown)
        raise CohortFormatError(
            f"{len(problems)} problem(s) found; nothing was loaded.", source=source, problems=shown,
            hint=(f"(and {more} more) " if more else "") + "Correct them in the file and upload it again.",
        )
    # extra columns are kept as text, for grouping
    for col in raw.columns:
        if col not in out:
            out[col] = raw[col].where(raw[col] != "", None)
    out = _derive(out)
    return Cohort(out.reset_index(drop=True), source, sha256, settings=settings)


def normalised_table(raw: pd.DataFrame, cohort: Cohort) -> pd.DataFrame:
    """The raw table with the validated IDs and dates written as the cohort read them (ISO dates)."""
    out = raw.copy()
    p = cohort.patients
    out["patient_id"] = p["patient_id"].to_numpy()
    for f in SCHEMA:
        if f.kind == "date" and f.name in out:
            out[f.name] = [v.date().isoformat() if pd.notna(v) else "" for v in p[f.name]]
    return out


def _derive(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["primary_resistance"] = df["first_response"].map({"PD": "yes", "CR": "no", "PR": "no", "SD": "no"})
    days = (df["progression_or_last_followup_date"] - df["tdm1_start_date"]).dt.days.astype(float)
    df["ttp_days"] = df["ttp_days"].where(df["ttp_days"].notna(), days)
    df["progression_event"] = df["progression"].map({"yes": 1, "no": 0}).astype("Int64")
    hr = [hormone_receptor_group(e, p) for e, p in zip(df["er_status"], df["pr_status"])]
    df["hr_group"] = [None if h is None else (HR_POSITIVE if h else HR_NEGATIVE) for h in hr]
    lines = df["prior_lines"]
    df["tdm1_line"] = [None if pd.isna(v) else ("second line or earlier" if v <= 1 else "later than second line") for v in lines]
    df["prior_lines_group"] = [None if pd.isna(v) else (">=5" if v >= 5 else str(int(v))) for v in lines]
    df["ctdna_available"] = np.where(df["ctdna_sample_id"].notna(), "yes", "no")
    for col in ("her2_ratio",):
        df[col] = np.nan
    for col in ("her2_ctdna", "pik3ca_ctdna", "flag"):
        df[col] = None
    return df


def attach_ctdna(cohort: Cohort, calls: Any, settings: Settings | None = None) -> Cohort:
    """Join ctDNA calls to patients by ``ctdna_sample_id``; report unmatched samples.

    ``calls`` is a list of ``SampleCalls`` or a table in :func:`tdm1core.calling.calls.calls_table`'s shape (the stored calls);
    where two exports hold the same sample name, the later one is used."""
    from tdm1core.calling.calls import calls_table

    settings = settings or cohort.settings
    table = calls_table(calls)
    table = table.assign(sample=table["sample"].astype(str).str.strip()).drop_duplicates("sample", keep="last")
    df = cohort.patients.copy()
    sid = df["ctdna_sample_id"].astype(object)
    key = sid.where(sid.isna(), sid.astype(str).str.strip())
    joined = pd.DataFrame({"sample": key}).merge(table, on="sample", how="left", validate="many_to_one")
    found = joined["her2_call"].notna().to_numpy()

    def only_found(values: Any) -> Any:  # None for patients without ctDNA
        out = np.asarray(values, dtype=object).copy()
        out[~found] = None
        return out

    df["her2_ratio"] = pd.to_numeric(joined["her2_ratio"], errors="coerce").to_numpy(dtype=float)
    df["her2_ctdna"] = only_found(joined["her2_call"].to_numpy(dtype=object))
    mutant = joined["pik3ca_any_mutant"].to_numpy(dtype=object)
    pik = np.where(mutant == True, "mutation positive",  # noqa: E712  (object array: True, False or None)
                   np.where(mutant == False, "mutation negative", "not evaluable"))  # noqa: E712
    df["pik3ca_ctdna"] = only_found(pik)
    hr = df["hr_group"].map({HR_POSITIVE: True, HR_NEGATIVE: False})
    df["flag"] = only_found(flag_statuses(df["her2_ctdna"].to_numpy(dtype=object), hr.to_numpy(dtype=object)))
    df["ctdna_available"] = np.where(found, "yes", "no")
    missing = [str(s) for s, ok in zip(sid, found) if s is not None and s == s and not ok]
    linked = set(key.dropna())
    unmatched = tuple(s for s in table["sample"] if s not in linked)
    notes = list(cohort.notes)
    if unmatched:
        notes.append(f"{len(unmatched)} sample(s) in the ddPCR export(s) match no patient: {_listed(unmatched)}.")
    if missing:
        notes.append(f"{len(missing)} patient sample ID(s) are in no ddPCR export: {_listed(missing)}.")
    return Cohort(df, cohort.source, cohort.sha256, unmatched, tuple(missing), tuple(notes), settings)


def _listed(names: Iterable[str], limit: int = 20) -> str:
    """Names for a notice: all of them up to ``limit``, then how many more (a registry has thousands)."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def load_cohort(data: bytes, name: str = "patients.csv", exports: Iterable[Any] = (), settings: Settings = DEFAULT_SETTINGS) -> Cohort:
    """Read, validate and derive a patient table; join the calls of the given ddPCR exports."""
    from tdm1core.calling.calls import call_export

    raw = read_patient_table(data, name)
    cohort = validate_patients(raw, name, hashlib.sha256(data).hexdigest(), settings)
    calls = [c for e in exports for c in call_export(e, settings)]
    return attach_ctdna(cohort, calls, settings)


def template_frame() -> pd.DataFrame:
    """The template: the schema's columns with one example row."""
    return pd.DataFrame([{f.name: f.example for f in SCHEMA}])


def data_dictionary() -> pd.DataFrame:
    return pd.DataFrame([
        {"column": f.name, "label": f.label, "type": {"id": "text (unique)", "int": "whole number", "category": "category",
                                                    "yesno": "yes / no", "date": "date YYYY-MM-DD", "text": "text",
                                                    "number": "number"}[f.kind],
         "required": "yes" if f.required else "no", "allowed values": ", ".join(f.allowed), "description": f.description}
        for f in SCHEMA
    ])

