"""tdm1core: ctDNA calls and the T-DM1 primary-resistance flag, cohort statistics, reports and storage.

Research use only; not a diagnostic device. The evidence behind the flag is
exploratory (16 patients with ctDNA in one retrospective study).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

# Lazily imported (PEP 562): ``python -m tdm1core km`` loads the survival code, not the ddPCR reader and scipy.stats.
_WHERE = {
    "ManualEntry": "calls", "SampleCalls": "calls", "call_export": "calls", "call_manual": "calls", "call_sample": "calls",
    "measure_export": "calls", "DdpcrExport": "ddpcr", "read_export": "ddpcr",
    "CohortFormatError": "errors", "DdpcrFormatError": "errors", "InputError": "errors", "SettingsError": "errors",
    "TargetMapError": "errors", "ConfidenceInterval": "intervals", "PatientResult": "risk", "RiskAssessment": "risk",
    "assess_risk": "risk", "Provenance": "provenance", "DEFAULT_SETTINGS": "settings", "Settings": "settings",
    "UploadAssessment": "workflows", "assess_manual": "workflows", "assess_upload": "workflows",
    "patient_result": "workflows", "save_result": "workflows", "cohort_view": "workflows", "CohortView": "workflows",
    "import_exports": "workflows", "import_patients": "workflows", "preview_patients": "workflows",
    "apply_settings": "workflows", "open_store": "workflows",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from .calls import ManualEntry, SampleCalls, call_export, call_manual, call_sample, measure_export
    from .ddpcr import DdpcrExport, read_export
    from .errors import CohortFormatError, DdpcrFormatError, InputError, SettingsError, TargetMapError
    from .intervals import ConfidenceInterval
    from .provenance import Provenance
    from .risk import PatientResult, RiskAssessment, assess_risk
    from .settings import DEFAULT_SETTINGS, Settings
    from .workflows import (CohortView, UploadAssessment, apply_settings, assess_manual, assess_upload, cohort_view,
                            import_exports, import_patients, open_store, patient_result, preview_patients, save_result)


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


from ._version import __version__  # noqa: E402  (one definition)

__all__ = [
    "__version__",
    "ConfidenceInterval", "Settings", "DEFAULT_SETTINGS",
    "InputError", "DdpcrFormatError", "TargetMapError", "CohortFormatError", "SettingsError",
    "DdpcrExport", "read_export", "ManualEntry", "SampleCalls", "call_export", "call_manual", "call_sample",
    "measure_export", "PatientResult", "RiskAssessment", "assess_risk",
    "Provenance", "UploadAssessment", "assess_upload", "assess_manual", "patient_result", "save_result",
    "CohortView", "cohort_view", "import_exports", "import_patients", "preview_patients", "apply_settings", "open_store",
]
