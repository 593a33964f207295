"""tdm1core: ctDNA calls and the T-DM1 primary-resistance flag, cohort statistics, reports and storage.

Research use only; not a diagnostic device. The evidence behind the flag is
exploratory (16 patients with ctDNA in one retrospective study).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tdm1core._lazy import lazy_getattr

# Lazily imported (PEP 562): ``python -m tdm1core km`` loads the survival code, not the ddPCR reader and scipy.stats.
_WHERE = {
    "ManualEntry": "calling.calls", "SampleCalls": "calling.calls", "call_export": "calling.calls", "call_manual": "calling.calls", "call_sample": "calling.calls",
    "measure_export": "calling.calls", "DdpcrExport": "reading.exports", "read_export": "reading.exports",
    "CohortFormatError": "errors", "DdpcrFormatError": "errors", "InputError": "errors", "SettingsError": "errors",
    "TargetMapError": "errors", "ConfidenceInterval": "measuring.intervals", "PatientResult": "clinical.risk", "RiskAssessment": "clinical.risk",
    "assess_risk": "clinical.risk", "Provenance": "clinical.provenance", "DEFAULT_SETTINGS": "settings", "Settings": "settings",
    "UploadAssessment": "app.workflows", "assess_manual": "app.workflows", "assess_upload": "app.workflows",
    "patient_result": "app.workflows", "save_result": "app.workflows", "cohort_view": "app.workflows", "CohortView": "app.workflows",
    "import_exports": "app.workflows", "import_patients": "app.workflows", "preview_patients": "app.workflows",
    "apply_settings": "app.workflows", "open_store": "app.workflows",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from tdm1core.calling.calls import ManualEntry, SampleCalls, call_export, call_manual, call_sample, measure_export
    from tdm1core.reading.exports import DdpcrExport, read_export
    from tdm1core.errors import CohortFormatError, DdpcrFormatError, InputError, SettingsError, TargetMapError
    from tdm1core.measuring.intervals import ConfidenceInterval
    from tdm1core.clinical.provenance import Provenance
    from tdm1core.clinical.risk import PatientResult, RiskAssessment, assess_risk
    from tdm1core.settings import DEFAULT_SETTINGS, Settings
    from tdm1core.app.workflows import (CohortView, UploadAssessment, apply_settings, assess_manual, assess_upload, cohort_view,
                            import_exports, import_patients, open_store, patient_result, preview_patients, save_result)


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


from tdm1core._version import __version__  # noqa: E402  (one definition)

__all__ = [
    "__version__",
    "ConfidenceInterval", "Settings", "DEFAULT_SETTINGS",
    "InputError", "DdpcrFormatError", "TargetMapError", "CohortFormatError", "SettingsError",
    "DdpcrExport", "read_export", "ManualEntry", "SampleCalls", "call_export", "call_manual", "call_sample",
    "measure_export", "PatientResult", "RiskAssessment", "assess_risk",
    "Provenance", "UploadAssessment", "assess_upload", "assess_manual", "patient_result", "save_result",
    "CohortView", "cohort_view", "import_exports", "import_patients", "preview_patients", "apply_settings", "open_store",
]
