"""Use cases: survival analysis of any CSV table — Kaplan-Meier and the log-rank test (with a landmark), Cox models with
their proportional-hazards check, and the restricted mean survival time (``python -m tdm1core km | cox | rmst``).

Reads the file with the csv module (no pandas: the command is a whole process, and most of its time would be
imports); every refusal names the file, the row and the column.
"""
from __future__ import annotations

import csv
import math
from typing import TYPE_CHECKING

from tdm1core.app.context import acting_user
from tdm1core.errors import InputError
from tdm1core.settings import Settings
from tdm1core.storage.access import Action

if TYPE_CHECKING:
    from tdm1core.stats.cox import CoxResult
    from tdm1core.stats.rmst import RMSTResult
    from tdm1core.stats.survival import KaplanMeierResult
    from tdm1core.storage.access import User

__all__ = ["km_from_csv", "cox_from_csv", "rmst_from_csv", "parse_reference", "CI_METHODS"]

CI_METHODS = ("log-log", "log", "plain")
_EVENTS = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _rows(data: bytes, name: str) -> list[list[str]]:
    from tdm1core.reading.textfile import decode_text

    try:
        rows = list(csv.reader(decode_text(data, name)[0].splitlines()))
    except csv.Error as exc:
        raise InputError(f"cannot read the table ({exc}).", source=name, hint="Give a CSV file with a header row.") from exc
    if not rows or not any(h.strip() for h in rows[0]):
        raise InputError("cannot read the table (no header row).", source=name, hint="Give a CSV file with a header row.")
    return rows


def _time(text: str, name: str, line: int, column: str) -> float:
    try:
        t = float(text) if text.strip() else math.nan
    except ValueError:
        raise InputError(f"expected a number, found {text!r}.", source=name, row=line, column=column) from None
    if not math.isnan(t) and (t < 0 or math.isinf(t)):
        raise InputError("times cannot be negative." if t < 0 else "a time must be a finite number.",
                         source=name, row=line, column=column)
    return t


def _event(text: str, name: str, line: int, column: str) -> float:
    e = text.strip().lower()
    if e and e not in _EVENTS:
        raise InputError(f"the event must be 1/0 or true/false, found {text!r}.", source=name, row=line, column=column)
    return _EVENTS.get(e, math.nan)


def km_from_csv(data: bytes, name: str, time: str, event: str, group: str | None, settings: Settings,
                at: str | None = None, actor: "User | str | None" = None, landmark: float | None = None) -> "KaplanMeierResult":
    """Kaplan-Meier per group (or overall) with the log-rank test, as R's survival package computes them
    (researchers)."""
    acting_user(actor, Action.COHORT)
    from tdm1core.stats.survival import kaplan_meier, parse_times

    rows = _rows(data, name)
    header = [h.strip() for h in rows[0]]
    for col in [time, event] + ([group] if group else []):
        if col not in header:
            raise InputError(f"no column {col!r}; the columns are {', '.join(header)}.", source=name, column=col)
    it, ie = header.index(time), header.index(event)
    ig = header.index(group) if group else None
    times, events, groups = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in row):
            continue  # a blank line
        if len(row) != len(header):
            raise InputError(f"the row has {len(row)} fields but the header has {len(header)}.", source=name, row=line)
        times.append(_time(row[it], name, line, time))
        events.append(_event(row[ie], name, line, event))
        if ig is not None:
            groups.append(row[ig].strip() or None)
    return kaplan_meier(times, events, groups if ig is not None else None, settings.km_ci_method,
                        settings.confidence_level, parse_times(at), landmark=landmark)


_MISSING = {"", "na", "nan", "none", "null"}


def _complete_rows(data: bytes, name: str, time: str, event: str, others: list[str]) -> tuple[list, list, dict, int]:
    """Times, events and the other columns' text of the rows where none is missing; how many rows were left out."""
    rows = _rows(data, name)
    header = [h.strip() for h in rows[0]]
    for col in [time, event] + others:
        if col not in header:
            raise InputError(f"no column {col!r}; the columns are {', '.join(header)}.", source=name, column=col,
                             hint="Name a column of the table's header.")
    at = {c: header.index(c) for c in [time, event] + others}
    times: list[float] = []
    events: list[float] = []
    columns: dict[str, list[str]] = {c: [] for c in others}
    left_out = 0
    for line, row in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise InputError(f"the row has {len(row)} fields but the header has {len(header)}.", source=name, row=line)
        t, e = _time(row[at[time]], name, line, time), _event(row[at[event]], name, line, event)
        values = [row[at[c]].strip() for c in others]
        if math.isnan(t) or math.isnan(e) or any(v.lower() in _MISSING for v in values):
            left_out += 1
            continue
        times.append(t)
        events.append(e)
        for c, v in zip(others, values):
            columns[c].append(v)
    return times, events, columns, left_out


def parse_reference(items: "list[str] | None") -> dict[str, str]:
    """``COL=LEVEL`` items (``--reference``) as a mapping; an InputError for an item without ``=``."""
    out = {}
    for item in items or []:
        col, sep, level = item.partition("=")
        if not sep or not col.strip() or not level.strip():
            raise InputError(f"--reference expects COL=LEVEL, but was {item!r}.", column="--reference",
                             hint="e.g. --reference celltype=squamous")
        out[col.strip()] = level.strip()
    return out


def cox_from_csv(data: bytes, name: str, time: str, event: str, covariates: "list[str]", strata: str | None = None,
                 ties: str = "efron", reference: "dict[str, str] | None" = None, level: float = 0.95,
                 actor: "User | str | None" = None) -> "CoxResult":
    """A Cox model of any CSV table, with its proportional-hazards check, as R's coxph and cox.zph (researchers).
    Rows with a missing value in any column used are left out and counted, as R's na.omit."""
    acting_user(actor, Action.COHORT)
    from tdm1core.stats.cox import cox_model

    covariates = [c.strip() for c in covariates if c.strip()]
    if len(set(covariates)) != len(covariates):
        raise InputError("a covariate is named twice.", source=name, column="--covariates")
    others = covariates + ([strata] if strata else [])
    times, events, columns, left_out = _complete_rows(data, name, time, event, others)
    return cox_model(times, events, columns, covariates, strata=columns[strata] if strata else None, ties=ties,
                     reference=reference, level=level, strata_name=strata, excluded=left_out)


def rmst_from_csv(data: bytes, name: str, time: str, event: str, group: str | None, tau: float, level: float = 0.95,
                  actor: "User | str | None" = None) -> "RMSTResult":
    """Restricted mean survival time up to ``tau`` per group, with the difference and ratio of two (researchers)."""
    acting_user(actor, Action.COHORT)
    from tdm1core.stats.rmst import rmst

    times, events, columns, left_out = _complete_rows(data, name, time, event, [group] if group else [])
    return rmst(times, events, columns[group] if group else None, tau, level, excluded=left_out)
