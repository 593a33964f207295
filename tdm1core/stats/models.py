"""A cohort's survival models: the Cox model of a grouping alone and adjusted, the RMST by group, and the columns a
model may use (never an outcome: response, progression and primary resistance describe what is being predicted)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from tdm1core.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from tdm1core.stats.cohort import Cohort
    from tdm1core.stats.cox import CoxResult
    from tdm1core.stats.rmst import RMSTResult

__all__ = ["DEFAULT_REFERENCE", "OUTCOME_COLUMNS", "model_columns", "cox_by", "rmst_by", "SurvivalModels"]

OUTCOME_COLUMNS = ("first_response", "best_response", "progression", "primary_resistance", "progression_event",
                   "ttp_days", "progression_or_last_followup_date")
_NUMERIC = ("age", "prior_lines", "her2_ratio")
# the reference a clinician reads a hazard ratio against: the flag's "at risk" against "not flagged"
DEFAULT_REFERENCE = {"flag": "not flagged", "hr_group": "ER and PR negative", "her2_ctdna": "amplified"}


def model_columns(cohort: "Cohort") -> list[str]:
    """Columns a Cox model may adjust for: the categories one can group by and the numbers, but no outcome."""
    numbers = [c for c in _NUMERIC if c in cohort.patients and cohort.patients[c].notna().any()]
    return [c for c in cohort.categorical_columns() if c not in OUTCOME_COLUMNS] + numbers


def _complete(cohort: "Cohort", columns: Sequence[str]):
    from tdm1core.stats import check_columns

    check_columns(cohort, list(columns), "the survival model")
    df = cohort.patients
    need = ["ttp_days", "progression_event", *columns]
    sub = df[df[need].notna().all(axis=1)]
    return sub, int(len(df) - len(sub))


def _values(series) -> list:
    """Numbers stay numbers (a numeric column is a covariate per unit); anything else is a category."""
    if series.dtype.kind in "fiu" or str(series.dtype) in ("Int64", "Float64"):
        return [float(v) for v in series]
    return [str(v) for v in series]


def cox_by(cohort: "Cohort", group: str, covariates: Sequence[str] = (), settings: Settings = DEFAULT_SETTINGS,
           ties: str = "efron", reference: "dict[str, str] | None" = None, strata: str | None = None) -> "CoxResult":
    """The Cox model of time to progression on ``group`` and ``covariates`` (patients with every value), each level
    of ``strata`` with its own baseline hazard."""
    from tdm1core.errors import InputError
    from tdm1core.stats.cox import cox_model

    columns = list(dict.fromkeys([group, *covariates]))
    if strata and strata in columns:
        raise InputError(f"{strata} cannot be both a covariate and the strata.", column=strata,
                         hint="Stratify by a column that is not in the model.")
    sub, left_out = _complete(cohort, columns + ([strata] if strata else []))
    chosen = {c: lvl for c, lvl in DEFAULT_REFERENCE.items() if c in columns and (sub[c].astype(str) == lvl).any()
              and sub[c].dtype == object} | dict(reference or {})
    return cox_model(sub["ttp_days"].astype(float).tolist(), sub["progression_event"].astype(int).tolist(),
                     {c: _values(sub[c]) for c in columns}, columns, ties=ties, reference=chosen,
                     level=settings.confidence_level, excluded=left_out,
                     strata=[str(v) for v in sub[strata]] if strata else None, strata_name=strata)


def rmst_by(cohort: "Cohort", group: str, tau: float, settings: Settings = DEFAULT_SETTINGS) -> "RMSTResult":
    """RMST of time to progression up to ``tau`` days by ``group``."""
    from tdm1core.stats.rmst import rmst

    sub, left_out = _complete(cohort, [group])
    return rmst(sub["ttp_days"].astype(float).tolist(), sub["progression_event"].astype(float).tolist(),
                [str(v) for v in sub[group]], tau, settings.confidence_level, excluded=left_out)


@dataclass(frozen=True)
class SurvivalModels:
    """What the Survival page shows beside Kaplan-Meier: the group's hazard ratio, the adjusted model (when
    covariates are chosen), the RMST (when a horizon is given); each None when not asked for."""

    group: str
    unadjusted: "CoxResult | None"
    adjusted: "CoxResult | None"
    rmst: "RMSTResult | None"
    problems: tuple[str, ...] = ()
