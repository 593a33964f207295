"""The index of the use cases, by who uses them (each module's functions check the acting user first).

==========================  =================================================================================
:mod:`.context`             who acts (:func:`acting_user`) and with which settings (:func:`settings_in_force`)
:mod:`.database`            the store opened, migrated and seeded with the synthetic demo
:mod:`.patient`             oncologists and reviewers: an upload assessed, the result, its PDF, save, release
:mod:`.cohort`              research teams: imports, stored calls, the cohort, its statistics and PDF
:mod:`.cohort_service`      the one bounded cache of a stored cohort's derived results (pages)
:mod:`.survival_table`      Kaplan-Meier of any table (research teams)
:mod:`.lab`                 the lab: droplets classified, an export's well table, limits of blank, profiles
:mod:`.monitoring`          serial ctDNA monitoring: each patient's timeline on T-DM1
:mod:`.fhir`                the hospital record in: FHIR patient data previewed and imported (research teams)
:mod:`.admin`               administrators: default settings, deletions, roles, the audit log, the database
:mod:`.cli`                 the command line: parses arguments, calls one use case above, prints
==========================  =================================================================================

Importing from here is the same as importing from the module that defines the use case; new code may do either.
"""
from __future__ import annotations

from tdm1core._version import __version__
from tdm1core.app.admin import *  # noqa: F401,F403
from tdm1core.app.admin import __all__ as _admin
from tdm1core.app.cohort import *  # noqa: F401,F403
from tdm1core.app.cohort import __all__ as _cohort
from tdm1core.app.cohort_service import cohort_statistics_json, code_fingerprint, refresh_statistics  # noqa: F401
from tdm1core.app.context import *  # noqa: F401,F403
from tdm1core.app.context import __all__ as _context
from tdm1core.app.database import *  # noqa: F401,F403
from tdm1core.app.database import __all__ as _database
from tdm1core.app.fhir import FhirOptions, FhirPreview, import_fhir, preview_fhir  # noqa: F401
from tdm1core.app.lab import cutoff_profiles, save_profile, validate_limits  # noqa: F401
from tdm1core.app.patient import *  # noqa: F401,F403
from tdm1core.app.patient import __all__ as _patient

__all__ = [*_context, *_database, *_patient, *_cohort, *_admin, "cutoff_profiles", "save_profile", "validate_limits",
           "cohort_statistics_json", "code_fingerprint", "refresh_statistics",
           "FhirOptions", "FhirPreview", "preview_fhir", "import_fhir",
           "__version__"]
