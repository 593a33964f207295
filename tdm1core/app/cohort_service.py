"""One home for the stored cohort's derived results on the server: the cohort with its calls, its statistics and its
Kaplan-Meier curves, computed once per state of the data and shared by the sessions of this process.

Keyed by the database's URL and state (:meth:`Store.state_key`: any write moves it), the settings' fingerprint and
the view's choices, in one bounded, least-recently-used cache. Every use case checks the acting user's role first,
then reads the cache, so sharing skips no role check; the pages audit their own views. Values are frozen results
(pages copy a table before changing it). Uploads are never cached here: they stay in the session that made them.

Two tiers, one key: the objects above live in this process; :func:`cohort_statistics_json` keeps the statistics as
JSON text in the database (the same data state, the settings' fingerprint and this package's code), so the command
line, other instances and a restarted server read them back without recomputing.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tdm1core.app.cohort import _cohort_view, _ensure_calls, cohort_view
from tdm1core.app.context import acting_user
from tdm1core.errors import InputError
from tdm1core.settings import Settings
from tdm1core.storage.access import SYSTEM, Action

if TYPE_CHECKING:
    import pandas as pd

    from tdm1core.stats.cohort import Cohort
    from tdm1core.storage.access import User
    from tdm1core.storage.store import Store

NO_PATIENTS = "the database holds no patients yet."

__all__ = ["stored_cohort", "cohort_statistics_view", "survival", "survival_models", "survival_report_pdf", "ReferenceContext", "reference_context", "code_fingerprint", "cohort_statistics_json", "SECTIONS", "statistics_text", "refresh_statistics", "clear", "KEEP"]

KEEP = {"cohort": 2, "statistics": 8, "survival": 8, "models": 8, "reference": 2}  # entries kept per kind (a registry cohort is large)


class _Bounded:
    """A least-recently-used cache with a bound per kind of result; safe for the server's threads."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # outside the lock: two sessions asking at once may both compute, and get equal results
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            same_kind = [k for k in self._items if k[0] == key[0]]
            for old in same_kind[:max(0, len(same_kind) - KEEP[key[0]])]:
                del self._items[old]
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_CACHE = _Bounded()


def clear() -> None:
    """Forget every derived result (tests; a restore of the database under the same URL changes its state anyway)."""
    _CACHE.clear()


def _state(store: "Store", settings: Settings) -> tuple[str, str, str]:
    return store.url, store.state_key(), settings.fingerprint()


def stored_cohort(store: "Store", settings: Settings, actor: "User | str | None" = None,
                  purpose: Action = Action.COHORT) -> "tuple[Cohort | None, pd.DataFrame]":
    """The stored cohort and its ctDNA calls (:func:`tdm1core.app.workflows.cohort_view`); None when no patient is
    stored. ``purpose``: Action.COHORT (statistics) or Action.REFERENCE_COHORT (beside a patient)."""
    user = acting_user(actor, purpose)

    def compute() -> "tuple[Cohort | None, pd.DataFrame]":
        view = cohort_view(store, settings, actor=user, purpose=purpose)
        return view.cohort, view.calls

    return _CACHE.get(("cohort", *_state(store, settings)), compute)


def cohort_statistics_view(store: "Store", settings: Settings, filters: "dict[str, list]",
                           table4_columns: Sequence[str] = (), actor: "User | str | None" = None) -> tuple[Any, Any]:
    """The filtered cohort and its statistics (Tables 1-4, performance, cut-offs, Kaplan-Meier; researchers)."""
    user = acting_user(actor, Action.COHORT)
    chosen = json.dumps({k: list(v) for k, v in filters.items()}, sort_keys=True, default=str)

    def compute() -> tuple[Any, Any]:
        from tdm1core.stats import analyse_cohort

        cohort, calls = stored_cohort(store, settings, user)
        if cohort is None:
            raise InputError(NO_PATIENTS, source="database", hint="Import a patient table on the Cohort page.")
        view = cohort.filter(**json.loads(chosen))
        return view, analyse_cohort(view, settings, table4_columns=list(table4_columns), calls=calls)

    return _CACHE.get(("statistics", *_state(store, settings), chosen, tuple(table4_columns)), compute)


def survival(store: "Store", settings: Settings, group: str, at: Sequence[float] = (),
             actor: "User | str | None" = None, landmark: float | None = None) -> Any:
    """Kaplan-Meier time to progression of the stored cohort by ``group``, from a landmark if given (researchers)."""
    user = acting_user(actor, Action.COHORT)

    def compute() -> Any:
        from tdm1core.stats import km_by

        cohort, _ = stored_cohort(store, settings, user)
        if cohort is None:
            raise InputError(NO_PATIENTS, source="database", hint="Import a patient table on the Cohort page.")
        return km_by(cohort, group, settings, at=tuple(at), landmark=landmark)

    return _CACHE.get(("survival", *_state(store, settings), group, tuple(at), landmark), compute)


def survival_models(store: "Store", settings: Settings, group: str, covariates: Sequence[str] = (), ties: str = "efron",
                    tau: float | None = None, actor: "User | str | None" = None, strata: str | None = None) -> Any:
    """The group's hazard ratio (Cox, the group alone), the model adjusted for ``covariates`` and the RMST up to
    ``tau`` of the stored cohort (researchers); what cannot be estimated is said in ``problems``, never raised."""
    user = acting_user(actor, Action.COHORT)

    def compute() -> Any:
        from tdm1core.stats.models import SurvivalModels, cox_by, rmst_by

        cohort, _ = stored_cohort(store, settings, user)
        if cohort is None:
            raise InputError(NO_PATIENTS, source="database", hint="Import a patient table on the Cohort page.")
        problems: list[str] = []
        found: dict[str, Any] = {}
        for name, make in (("unadjusted", lambda: cox_by(cohort, group, (), settings, ties)),
                           ("adjusted", (lambda: cox_by(cohort, group, covariates, settings, ties, strata=strata))
                            if covariates else None),
                           ("rmst", (lambda: rmst_by(cohort, group, tau, settings)) if tau else None)):
            try:
                found[name] = make() if make else None
            except InputError as exc:
                found[name] = None
                problems.append(f"{name}: {exc}")
        return SurvivalModels(group, found["unadjusted"], found["adjusted"], found["rmst"], tuple(problems))

    return _CACHE.get(("models", *_state(store, settings), group, tuple(covariates), ties, tau, strata), compute)


def survival_report_pdf(store: "Store", settings: Settings, group: str, covariates: Sequence[str] = (),
                        ties: str = "efron", tau: float | None = None, actor: "User | str | None" = None,
                        strata: str | None = None) -> bytes:
    """The cohort PDF of the whole stored cohort with the Survival page's models (researchers; audited)."""
    user = acting_user(actor, Action.COHORT_REPORT)
    from tdm1core.app.cohort import cohort_report_pdf
    from tdm1core.clinical.provenance import Provenance

    view, stats = cohort_statistics_view(store, settings, {}, (), user)
    models = survival_models(store, settings, group, covariates, ties, tau, user, strata)
    return cohort_report_pdf(store, view, stats, Provenance(view.source, view.sha256), None, actor=user, models=models)


@dataclass(frozen=True)
class ReferenceContext:
    """The stored cohort beside one patient's result: its HER2/EFTUD2 ratios and Kaplan-Meier time to progression by
    flag (both None on an empty database), and whether it is the synthetic demo."""

    points: Any = None
    km: Any = None
    synthetic: bool = False


def reference_context(store: "Store", settings: Settings, actor: "User | str | None" = None) -> ReferenceContext:
    """The cohort context of the Patient page (clinicians, researchers, reviewers)."""
    user = acting_user(actor, Action.REFERENCE_COHORT)

    def compute() -> ReferenceContext:
        from tdm1core.stats import km_by

        cohort, _ = stored_cohort(store, settings, user, Action.REFERENCE_COHORT)
        if cohort is None:
            return ReferenceContext()
        return ReferenceContext(cohort.ratio_points(), km_by(cohort, "flag", settings), "synthetic" in cohort.source)

    return _CACHE.get(("reference", *_state(store, settings)), compute)


# ------------------------------------------------------------------ the persistent tier: the statistics as JSON text

@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of this package's source (a new version of any of it never reads statistics an old one stored)."""
    from pathlib import Path

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _statistics_key(store: "Store", settings: Settings, group: str, table4_columns: "tuple[str, ...]") -> str:
    parts = [store.patients_revision(), store.calls_revision(), settings.fingerprint(), code_fingerprint(),
             json.dumps([group, list(table4_columns)])]
    return "statistics:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


SECTIONS = ("table1", "table2", "table3", "table4", "thresholds", "performance", "km")
"""The parts of the statistics one may ask for alone (``cohort --db URL --json --section NAME``)."""
_ABOUT = ("settings", "source", "n", "notes")  # with every answer: the settings stamp and the cohort it describes


def cohort_statistics_json(store: "Store", settings: Settings, group: str = "flag",
                           table4_columns: "tuple[str, ...]" = (), actor: "User | str | None" = None,
                           section: str | None = None) -> str | None:
    """The stored cohort's statistics with ``settings`` as compact JSON (what ``cohort --db URL --json`` prints):
    :meth:`CohortStatistics.to_json` with the cohort's source, size and notes; with ``section`` (one of
    :data:`SECTIONS`), that part alone with the settings, source, size and notes. None when no patient is stored.

    Derived data with one home: each part is stored as its own row under a key made of the patients' and the calls'
    revisions, the settings hash, the grouping and a hash of this package's code, so it is computed once per state
    of the data and read back afterwards, a part without the others (Table 3 has a row per patient; the
    performance is a few hundred bytes); any write, setting or code change makes a new key, so a stale answer is
    never read. A damaged or missing part (zlib's checksum) makes the whole answer computed again."""
    acting_user(actor, Action.COHORT)
    names = _answer_names(section)
    table4_columns = tuple(table4_columns)
    _ensure_calls(store, settings)  # the calls for these settings exist before the key is taken
    key = _statistics_key(store, settings, group, table4_columns)
    found = _stored_parts(store, key, names)
    if found is None:
        found = _computed_parts(store, settings, group, table4_columns, key)
        if found is None:
            return None
    return "{" + ",".join(found[name] for name in names) + "}"


def statistics_text(stats: Any, section: str | None = None, **about: Any) -> str:
    """:func:`cohort_statistics_json`'s text for statistics computed in memory (a cohort from files)."""
    names = _answer_names(section)
    parts = _parts(stats, **about)
    return "{" + ",".join(parts[name] for name in names) + "}"


def _answer_names(section: str | None) -> "list[str]":
    if section is not None and section not in SECTIONS:
        raise InputError(f"no section {section!r} in the cohort statistics.", column="--section",
                         hint=f"Use one of: {', '.join(SECTIONS)}.")
    return [*SECTIONS, "about"] if section is None else [section, "about"]


def _parts(stats: Any, **about: Any) -> dict[str, str]:
    """The answer's stored parts: each section's ``"name":value`` text, and ``about`` (settings, source, size, notes)."""
    members = stats.json_members(**about)
    parts = {name: members[name] for name in SECTIONS}
    parts["about"] = ",".join(members[name] for name in _ABOUT)
    return parts


def _stored_parts(store: "Store", key: str, names: "list[str]") -> "dict[str, str] | None":
    """The stored parts ``names`` of the answer under ``key``, or None when any is missing or damaged."""
    import zlib

    rows = store.cohort_snapshots([f"{key}/{name}" for name in names])
    try:
        return {name: zlib.decompress(rows[f"{key}/{name}"]).decode("utf-8") for name in names}
    except (KeyError, zlib.error, UnicodeDecodeError):
        return None


def _computed_parts(store: "Store", settings: Settings, group: str, table4_columns: "tuple[str, ...]",
                    key: str) -> "dict[str, str] | None":
    """Every part computed now and stored when nobody wrote meanwhile; None when no patient is stored."""
    import zlib

    from tdm1core.stats import analyse_cohort

    view = _cohort_view(store, settings)
    if view.cohort is None:
        return None
    cohort = view.cohort
    parts = _parts(analyse_cohort(cohort, settings, group, table4_columns, calls=view.calls),
                   source=cohort.source, n=cohort.n, notes=list(cohort.notes))
    if _statistics_key(store, settings, group, table4_columns) == key:  # nobody wrote meanwhile
        store.save_statistics_sections({f"{key}/{name}": zlib.compress(text.encode("utf-8"), 6)
                                        for name, text in parts.items()}, keep=4)
    return parts


# ------------------------------------------------------------------ the demo and opening a store

def refresh_statistics(store: "Store") -> None:
    """Compute and store the cohort statistics for the saved settings (derived data, by the system, not a view)."""
    cohort_statistics_json(store, store.saved_settings(), actor=SYSTEM)


