"""The study's statistics: descriptive tables, Fisher's exact tests, Kaplan-Meier with log-rank, the flag's performance."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from tdm1core._lazy import lazy_getattr
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.stats.survival import CI_METHOD_LABELS, KaplanMeierResult, kaplan_meier

if TYPE_CHECKING:
    import pandas as pd

    from tdm1core.stats.cohort import Cohort
    from tdm1core.stats.contingency import (FISHER_METHOD, Performance, fisher, performance, resistance_by, table4, table4_for_reading,
                              threshold_table)
    from tdm1core.stats.descriptive import INDENT, table1, table1_for_reading, table2, table3

# the cohort tables load with their first use, so that ``python -m tdm1core km`` reads only the survival code
_WHERE = {"FISHER_METHOD": "contingency", "Performance": "contingency", "fisher": "contingency",
          "performance": "contingency", "resistance_by": "contingency", "table4": "contingency",
          "threshold_table": "contingency", "table4_for_reading": "contingency", "table1": "descriptive", "table1_for_reading": "descriptive", "INDENT": "descriptive", "table2": "descriptive",
          "table3": "descriptive"}


__getattr__ = lazy_getattr(__name__, _WHERE, globals())

__all__ = [
    "CohortStatistics", "analyse_cohort", "km_by", "table1", "table1_for_reading", "table2", "table3", "table4", "performance",
    "threshold_table", "table4_for_reading", "kaplan_meier", "fisher", "resistance_by", "FISHER_METHOD", "CI_METHOD_LABELS",
    "KaplanMeierResult", "Performance", "INDENT",
]


def km_by(cohort: Cohort, column: str = "flag", settings: Settings = DEFAULT_SETTINGS, at: Sequence[float] = (),
          landmark: float | None = None) -> KaplanMeierResult:
    """Kaplan-Meier time to progression grouped by a column (patients with a value in it), from a landmark if given."""
    df = cohort.patients
    check_columns(cohort, [column] if column else [], "the Kaplan-Meier grouping (--group)")
    sub = df[df[column].notna()] if column else df
    return kaplan_meier(sub["ttp_days"], sub["progression_event"].astype("float"), sub[column] if column else None,
                        settings.km_ci_method, settings.confidence_level, at, landmark=landmark)


@dataclass(frozen=True)
class CohortStatistics:
    table1: pd.DataFrame
    table2: pd.DataFrame
    table3: pd.DataFrame
    table4: pd.DataFrame
    performance: Performance
    thresholds: pd.DataFrame
    km: KaplanMeierResult
    km_group: str
    settings: Settings

    def to_json(self, **extra: Any) -> str:
        """The same object as :meth:`to_dict` (plus ``extra`` keys) as JSON text, with each table written by pandas'
        C encoder (15 significant digits; NaN as null): a registry's Table 3 has 100,000 rows."""
        return "{" + ",".join(self.json_members(**extra).values()) + "}"

    def json_members(self, **extra: Any) -> dict[str, str]:
        """Each member of :meth:`to_json`'s object as its own ``"name":value`` text, in order (stored and read by
        section: :func:`tdm1core.app.cohort_service.cohort_statistics_json`)."""
        import json

        tables = {"table1": self.table1, "table2": self.table2, "table3": self.table3, "table4": self.table4,
                  "thresholds": self.thresholds}
        small = {"performance": self.performance.to_dict(), "km": self.km.to_dict() | {"grouped_by": self.km_group},
                 "settings": self.settings.to_dict(), **extra}
        members = {k: f"{json.dumps(k)}:{df.to_json(orient='records', double_precision=15, force_ascii=False)}"
                   for k, df in tables.items()}
        members.update({k: f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, default=str)}" for k, v in small.items()})
        return members

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "table1": records(self.table1), "table2": records(self.table2), "table3": records(self.table3),
            "table4": records(self.table4), "performance": self.performance.to_dict(), "thresholds": records(self.thresholds),
            "km": self.km.to_dict() | {"grouped_by": self.km_group}, "settings": self.settings.to_dict(),
        }


def check_columns(cohort: Cohort, columns: Sequence[str], what: str) -> None:
    """Every column asked for is in the cohort, or one error naming the ones that are (never a KeyError)."""
    from tdm1core.errors import InputError

    missing = [c for c in columns if c not in cohort.patients.columns]
    if missing:
        known = ", ".join(sorted(str(c) for c in cohort.patients.columns if not str(c).startswith("_")))
        raise InputError(f"{what}: no column {', '.join(repr(m) for m in missing)} in the cohort.", source=cohort.source,
                         column=missing[0], hint=f"Use one of: {known}.")


def analyse_cohort(cohort: Cohort, settings: Settings = DEFAULT_SETTINGS, km_group: str = "flag",
                   table4_columns: Sequence[str] = (), at: Sequence[float] = (), calls: list | None = None) -> CohortStatistics:
    """Tables 1-4, the flag's performance (with the cut-off table) and Kaplan-Meier by ``km_group``."""
    from tdm1core.stats.contingency import performance, table4, threshold_table
    from tdm1core.stats.descriptive import table1, table2, table3

    check_columns(cohort, list(table4_columns), "Table 4's characteristics (--table4-column)")
    cutoffs = sorted({1.0, 1.1, 1.2, 1.3, 1.5, 2.0, settings.her2_ratio_cutoff})
    return CohortStatistics(
        table1=table1(cohort), table2=table2(cohort), table3=table3(cohort, calls), table4=table4(cohort, table4_columns),
        performance=performance(cohort, settings.confidence_level),
        thresholds=threshold_table(cohort, cutoffs, settings.confidence_level),
        km=km_by(cohort, km_group, settings, at), km_group=km_group, settings=settings,
    )

