"""tdm1core: ctDNA calls and the T-DM1 primary-resistance flag, cohort statistics, reports and storage.

Research use only; not a diagnostic device. The evidence behind the flag is
exploratory (16 patients with ctDNA in one retrospective study).
"""
from __future__ import annotations

from .calls import ManualEntry, SampleCalls, call_export, call_manual, call_sample, measure_export
from .ddpcr import DdpcrExport, read_export
from .errors import CohortFormatError, DdpcrFormatError, InputError, SettingsError, TargetMapError
from .intervals import ConfidenceInterval
from .risk import PatientResult, RiskAssessment, assess_risk
from .provenance import Provenance
from .settings import DEFAULT_SETTINGS, Settings
from .workflows import UploadAssessment, assess_manual, assess_upload, patient_result, save_result

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ConfidenceInterval", "Settings", "DEFAULT_SETTINGS",
    "InputError", "DdpcrFormatError", "TargetMapError", "CohortFormatError", "SettingsError",
    "DdpcrExport", "read_export", "ManualEntry", "SampleCalls", "call_export", "call_manual", "call_sample",
    "measure_export", "PatientResult", "RiskAssessment", "assess_risk",
    "Provenance", "UploadAssessment", "assess_upload", "assess_manual", "patient_result", "save_result",
]
