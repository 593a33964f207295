"""The serial-monitoring tables: samples (patient, sample, collection date, optional volumes) and events (treatment
starts and ends, imaging with its RECIST 1.1 response), validated as the patient table is: every problem by row and
column, the whole file refused on any, dates never guessed (ISO, or DD/MM/YYYY / MM/DD/YYYY under ``date_order``)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a table is read: `monitor --db` never needs it
    import pandas as pd

from tdm1core.errors import CohortFormatError, Problem
from tdm1core.settings import DEFAULT_SETTINGS, Settings

__all__ = ["SampleRow", "EventRow", "read_samples", "read_events", "SAMPLE_COLUMNS", "EVENT_COLUMNS", "EVENT_TYPES",
           "RECIST", "samples_template", "events_template", "serial_dictionary"]

SAMPLE_COLUMNS = {
    "patient_id": "the pseudonymous patient ID (as in the patient table; never a name)",
    "sample_id": "the sample's name as the ddPCR export writes it (Sample / Sample description 1); unique",
    "collection_date": "the date the blood was drawn, YYYY-MM-DD",
    "plasma_ml": "optional: plasma volume extracted, mL",
    "eluate_ul": "optional: elution volume of the extracted DNA, µL",
    "template_ul": "optional: eluate volume put into each 20 µL well, µL",
}
EVENT_COLUMNS = {
    "patient_id": "the pseudonymous patient ID",
    "event_date": "the date, YYYY-MM-DD",
    "event_type": "treatment_start, treatment_end or imaging",
    "detail": "the drug for a treatment (e.g. T-DM1); the RECIST 1.1 response for imaging: CR, PR, SD or PD",
}
EVENT_TYPES = ("treatment_start", "treatment_end", "imaging")
RECIST = ("CR", "PR", "SD", "PD")
_VOLUMES = ("plasma_ml", "eluate_ul", "template_ul")
_MAX_VOLUME = {"plasma_ml": 100.0, "eluate_ul": 1000.0, "template_ul": 20.0}


@dataclass(frozen=True)
class SampleRow:
    patient_id: str
    sample_id: str
    collection_date: str  # ISO 8601
    plasma_ml: float | None = None
    eluate_ul: float | None = None
    template_ul: float | None = None

    @property
    def per_ml_factor(self) -> float | None:
        """Copies per 20 µL well × this = copies per mL of plasma (None without all three volumes)."""
        if self.plasma_ml and self.eluate_ul and self.template_ul:
            return self.eluate_ul / self.template_ul / self.plasma_ml
        return None


@dataclass(frozen=True)
class EventRow:
    patient_id: str
    event_date: str
    event_type: str
    detail: str


def _problem(problems: list[Problem], row: int, column: str, message: str, value: Any = None) -> None:
    problems.append(Problem(message, row=row, column=column, value=value))


def _frame(data: bytes, name: str, columns: dict[str, str], required: tuple[str, ...]) -> pd.DataFrame:
    from tdm1core.stats.cohort import read_patient_table

    raw = read_patient_table(data, name)
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise CohortFormatError(f"the table has no column {', '.join(repr(m) for m in missing)}; it needs "
                                f"{', '.join(required)} (optional: {', '.join(c for c in columns if c not in required)}).",
                                source=name, row=1, column=missing[0], hint="Download the template from the Monitoring page.")
    unknown = [c for c in raw.columns if c not in columns]
    if unknown:
        raise CohortFormatError(f"the table has column(s) {', '.join(repr(u) for u in unknown)} this table does not "
                                "have; a misspelt column would be ignored.", source=name, row=1, column=unknown[0],
                                hint=f"The columns are {', '.join(columns)}.")
    return raw


def _dates(raw: pd.DataFrame, column: str, settings: Settings, problems: list[Problem]) -> list[str]:
    import pandas as pd

    from tdm1core.stats.cohort import _parse_dates

    rows = pd.Series(range(2, len(raw) + 2), index=raw.index)
    parsed = _parse_dates(raw[column], rows, column, settings.date_order, problems)
    out = []
    for r, v, p in zip(rows, raw[column], parsed):
        if not v:
            _problem(problems, int(r), column, "the date is missing.")
        out.append("" if pd.isna(p) else p.date().isoformat())
    return out


def _volume(text: str, row: int, column: str, problems: list[Problem]) -> float | None:
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        _problem(problems, row, column, f"{text!r} is not a number.", text)
        return None
    if not math.isfinite(v) or v <= 0 or v > _MAX_VOLUME[column]:
        _problem(problems, row, column, f"{text!r} is not a plausible volume (above 0, at most {_MAX_VOLUME[column]:g}).", text)
        return None
    return v


def _refuse(problems: list[Problem], name: str, what: str) -> None:
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        raise CohortFormatError(f"the {what} has {len(problems)} problem(s); nothing was read.", source=name,
                                problems=tuple(problems[:200]), hint="Correct the rows listed and load the table again.")


def read_samples(data: bytes, name: str = "samples.csv", settings: Settings = DEFAULT_SETTINGS) -> tuple[SampleRow, ...]:
    """The sample table, validated (see the module docstring); a sample ID twice is refused."""
    raw = _frame(data, name, SAMPLE_COLUMNS, ("patient_id", "sample_id", "collection_date"))
    problems: list[Problem] = []
    dates = _dates(raw, "collection_date", settings, problems)
    seen: dict[str, int] = {}
    out = []
    for i, rec in enumerate(raw.to_dict("records")):
        row = i + 2
        for col in ("patient_id", "sample_id"):
            if not rec[col]:
                _problem(problems, row, col, f"the {col.replace('_', ' ')} is missing.")
        sid = rec["sample_id"]
        if sid and sid in seen:
            _problem(problems, row, "sample_id", f"sample {sid!r} is listed twice (also row {seen[sid]}).", sid)
        seen.setdefault(sid, row)
        vols = {c: _volume(rec.get(c, ""), row, c, problems) for c in _VOLUMES}
        given = [c for c in _VOLUMES if rec.get(c)]
        if given and len(given) < 3:
            _problem(problems, row, given[0], "give all three volumes (plasma_ml, eluate_ul, template_ul) or none; "
                     "copies per mL need the three.")
        out.append(SampleRow(rec["patient_id"], sid, dates[i], **vols))
    _refuse(problems, name, "sample table")
    return tuple(out)


def read_events(data: bytes, name: str = "events.csv", settings: Settings = DEFAULT_SETTINGS) -> tuple[EventRow, ...]:
    """The events table, validated (see the module docstring)."""
    raw = _frame(data, name, EVENT_COLUMNS, ("patient_id", "event_date", "event_type", "detail"))
    problems: list[Problem] = []
    dates = _dates(raw, "event_date", settings, problems)
    out = []
    for i, rec in enumerate(raw.to_dict("records")):
        row = i + 2
        kind, detail = rec["event_type"].strip().lower(), rec["detail"].strip()
        if not rec["patient_id"]:
            _problem(problems, row, "patient_id", "the patient ID is missing.")
        if kind not in EVENT_TYPES:
            _problem(problems, row, "event_type", f"{rec['event_type']!r} is not one of {', '.join(EVENT_TYPES)}.",
                     rec["event_type"])
        elif kind == "imaging" and detail.upper() not in RECIST:
            _problem(problems, row, "detail", f"{detail!r} is not a RECIST 1.1 response ({', '.join(RECIST)}).", detail)
        elif kind != "imaging" and not detail:
            _problem(problems, row, "detail", "name the drug of the treatment (e.g. T-DM1).")
        out.append(EventRow(rec["patient_id"], dates[i], kind, detail.upper() if kind == "imaging" else detail))
    _refuse(problems, name, "events table")
    return tuple(out)


def samples_template() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"patient_id": "P01", "sample_id": "P01-C1D1", "collection_date": "2016-03-01",
                          "plasma_ml": "4", "eluate_ul": "50", "template_ul": "8"}])


def events_template() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"patient_id": "P01", "event_date": "2016-03-02", "event_type": "treatment_start", "detail": "T-DM1"},
                         {"patient_id": "P01", "event_date": "2016-05-20", "event_type": "imaging", "detail": "SD"}])


def serial_dictionary() -> pd.DataFrame:
    import pandas as pd

    rows = [{"table": "samples", "column": c, "meaning": m} for c, m in SAMPLE_COLUMNS.items()]
    rows += [{"table": "events", "column": c, "meaning": m} for c, m in EVENT_COLUMNS.items()]
    return pd.DataFrame(rows)
