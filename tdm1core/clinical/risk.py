"""The risk flag for primary resistance to T-DM1.

**At risk of primary resistance** when HER2 is *not amplified* in ctDNA AND the
tumour is ER-positive and/or PR-positive; **not flagged** otherwise;
**incomplete** when the HER2 call or the hormone-receptor group is missing or
not evaluable (missing data is never treated as negative).

Evidence: in the study (16 patients with ctDNA, 4 primary-resistant), all four
primary-resistant patients had this profile; median time to progression was
56.6 days in flagged patients vs 318 days in the others (log-rank p = 0.0037).
This is exploratory, single-centre, retrospective evidence: the flag is for
research and discussion, not a reason to withhold T-DM1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from tdm1core.calling.calls import AMPLIFIED, HER2_PLASMA_CAVEAT, NOT_AMPLIFIED, SampleCalls
from tdm1core.errors import InputError
from tdm1core.settings import DEFAULT_SETTINGS, Settings

__all__ = [
    "AT_RISK", "NOT_FLAGGED", "INCOMPLETE", "RECEPTOR_VALUES", "HEADLINES", "HR_POSITIVE", "HR_NEGATIVE", "flag_status", "is_at_risk",
    "RiskAssessment", "PatientResult", "assess_risk", "parse_receptor", "hormone_receptor_group",
    "EVIDENCE", "LIMITS",
]

AT_RISK = "at risk"
NOT_FLAGGED = "not flagged"
INCOMPLETE = "incomplete"
RECEPTOR_VALUES = ("positive", "negative", "unknown")
HEADLINES = {
    AT_RISK: "At risk of primary resistance to T-DM1",
    NOT_FLAGGED: "Not flagged",
    INCOMPLETE: "Incomplete",
}
EVIDENCE = (
    "In the study (Kindai University; 34 patients, 16 with pre-treatment ctDNA), all 4 patients with primary "
    "resistance (progressive disease at the first RECIST 1.1 evaluation) had HER2 not amplified in ctDNA and an "
    "ER- and/or PR-positive tumour; median time to progression was 56.6 days in that group vs 318 days in the others "
    "(log-rank p = 0.0037 in the paper; the figures below give this cohort's own p)."
)
LIMITS = (
    "Exploratory evidence from 16 patients at one institution, retrospective, not validated: the flag is for research "
    "and discussion alongside clinical judgement. It does not predict response and is not a reason on its own to "
    "withhold T-DM1. Research use only; not a diagnostic device."
)

# One vocabulary for receptor status, in the page, the command line and the patient table (data dictionary):
RECEPTOR_SPELLINGS = {
    "positive": ("positive", "pos", "+", "1"),
    "negative": ("negative", "neg", "-", "0"),
    "unknown": ("unknown", "", "unk", "na", "n/a", "not done", "missing"),
}
_POS = set(RECEPTOR_SPELLINGS["positive"])
_NEG = set(RECEPTOR_SPELLINGS["negative"])
_UNK = set(RECEPTOR_SPELLINGS["unknown"])


def parse_receptor(value: object, name: str = "receptor") -> str:
    """'positive' / 'negative' / 'unknown' from the usual spellings."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "positive" if value else "negative"
    text = str(value).strip().lower()
    if text in _POS:
        return "positive"
    if text in _NEG:
        return "negative"
    if text in _UNK:
        return "unknown"
    raise InputError(f"{name} status must be positive, negative or unknown, but was {value!r}.", column=name,
                     hint="Use " + "; ".join(f"{k}: {', '.join(repr(x) for x in v if x)}" for k, v in RECEPTOR_SPELLINGS.items())
                     + " (positive when >= 10% of tumour cells stain).")


def hormone_receptor_group(er: str, pr: str) -> bool | None:
    """True: ER and/or PR positive; False: both negative; None: undetermined."""
    if "positive" in (er, pr):
        return True
    if er == "negative" and pr == "negative":
        return False
    return None


HR_POSITIVE = "ER and/or PR positive"
HR_NEGATIVE = "ER and PR negative"


def is_at_risk(her2_amplified: Any, hr_positive: Any) -> Any:
    """The flag rule, in one place: HER2 not amplified AND ER and/or PR positive. Takes booleans or boolean arrays
    (elementwise, for cohort tables)."""
    import numpy as np

    return np.logical_and(np.logical_not(her2_amplified), hr_positive)


def flag_status(her2_amplified: bool | None, hr_positive: bool | None) -> str:
    """At risk / not flagged by :func:`is_at_risk`; incomplete when either input is unknown (missing is never negative)."""
    if her2_amplified is None or hr_positive is None:
        return INCOMPLETE
    return AT_RISK if bool(is_at_risk(her2_amplified, hr_positive)) else NOT_FLAGGED


def flag_statuses(her2_calls: Any, hr_positive: Any) -> Any:
    """:func:`flag_status` for whole columns: HER2 calls (strings, None where there is none) and hormone-receptor
    positivity (True / False / None). Returns an object array of statuses."""
    import numpy as np
    import pandas as pd

    calls = pd.Series(her2_calls, dtype=object).reset_index(drop=True)
    hr = pd.Series(hr_positive, dtype=object).reset_index(drop=True)
    amplified = calls.map({AMPLIFIED: True, NOT_AMPLIFIED: False})
    known = (amplified.notna() & hr.notna()).to_numpy()
    at_risk = is_at_risk(amplified.to_numpy() == True, hr.to_numpy() == True)  # noqa: E712  (object arrays)
    return np.where(~known, INCOMPLETE, np.where(at_risk, AT_RISK, NOT_FLAGGED)).astype(object)


@dataclass(frozen=True)
class RiskAssessment:
    status: str
    headline: str
    reasons: tuple[str, ...]
    missing: tuple[str, ...]
    evidence: str
    limits: str
    settings: Settings

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headline": self.headline,
            "reasons": list(self.reasons),
            "missing": list(self.missing),
            "evidence": self.evidence,
            "limits": self.limits,
        }


def assess_risk(her2_call: str | None, er: object, pr: object, settings: Settings = DEFAULT_SETTINGS,
                her2_detail: str | None = None) -> RiskAssessment:
    """The flag from the HER2 call ('amplified' / 'not amplified' / 'not evaluable' / None) and ER/PR status."""
    er_s, pr_s = parse_receptor(er, "ER"), parse_receptor(pr, "PR")
    hr = hormone_receptor_group(er_s, pr_s)
    reasons: list[str] = []
    missing: list[str] = []
    detail = f" ({her2_detail})" if her2_detail else ""
    if her2_call == NOT_AMPLIFIED:
        reasons.append(f"Met: HER2 is not amplified in ctDNA{detail}. Caveat: {HER2_PLASMA_CAVEAT}")  # its own sentence, as written
    elif her2_call == AMPLIFIED:
        reasons.append(f"Not met: HER2 is amplified in ctDNA{detail}.")
    else:
        missing.append("HER2 call")
        reasons.append(f"Missing: HER2 in ctDNA is not evaluable{detail}." if her2_call else "Missing: no HER2 result.")
    receptors = f"ER {er_s}, PR {pr_s}"
    if hr is True:
        reasons.append(f"Met: hormone-receptor positive ({receptors}).")
    elif hr is False:
        reasons.append(f"Not met: ER and PR both negative ({receptors}).")
    else:
        missing.append("ER/PR status")
        reasons.append(f"Missing: hormone-receptor group cannot be decided ({receptors}); ER or PR positive, or both negative, is needed.")
    amplified = {AMPLIFIED: True, NOT_AMPLIFIED: False}.get(her2_call or "")
    status = flag_status(amplified, hr)
    if status == INCOMPLETE and (amplified is True or hr is False):
        reasons.append("Whatever the missing value, this profile would not be flagged.")
    return RiskAssessment(status, HEADLINES[status], tuple(reasons), tuple(missing), EVIDENCE, LIMITS, settings)


@dataclass(frozen=True)
class PatientResult:
    """Calls, receptor status and flag for one patient sample."""

    calls: SampleCalls
    er: str
    pr: str
    flag: RiskAssessment
    patient_id: str | None = None
    collection_date: str | None = None

    @classmethod
    def from_calls(cls, calls: SampleCalls, er: object, pr: object, patient_id: str | None = None,
                   collection_date: str | None = None) -> "PatientResult":
        er_s, pr_s = parse_receptor(er, "ER"), parse_receptor(pr, "PR")
        flag = assess_risk(calls.her2.call, er_s, pr_s, calls.settings, calls.her2.reason)
        return cls(calls, er_s, pr_s, flag, patient_id, collection_date)

    def summary_table(self) -> "pd.DataFrame":
        """One row per result, for CSV/XLSX download."""
        import pandas as pd

        h = self.calls.her2
        rows = [
            ("patient ID", self.patient_id or ""), ("sample", self.calls.sample), ("collection date", self.collection_date or ""),
            ("flag", self.flag.headline), ("HER2/EFTUD2 ratio", h.ratio),
            ("HER2 ratio CI low", h.ci.low if h.ci else None), ("HER2 ratio CI high", h.ci.high if h.ci else None),
            ("HER2 call", h.call + (" (borderline)" if h.borderline else "")), ("EFTUD2 copies/20 µL", h.reference_copies),
            ("ER", self.er), ("PR", self.pr),
        ]
        for hs in self.calls.pik3ca.hotspots:
            rows += [(f"PIK3CA {hs.hotspot} mutant copies/20 µL", hs.mutant_copies),
                     (f"PIK3CA {hs.hotspot} wild-type copies/20 µL", hs.wildtype_copies), (f"PIK3CA {hs.hotspot} call", hs.call)]
        rows += [(f"reason {i + 1}", r) for i, r in enumerate(self.flag.reasons)]
        rows += [("source", self.calls.source), ("settings", self.calls.settings.describe())]
        return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})

    def to_dict(self) -> dict[str, Any]:
        d = self.calls.to_dict()
        d["patient_id"] = self.patient_id
        d["collection_date"] = self.collection_date
        d["er"] = self.er
        d["pr"] = self.pr
        d["flag"] = self.flag.to_dict()
        return d
