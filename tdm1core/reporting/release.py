"""Released reports: a named reviewer's sign-off, immutable versions, and amendments that say what changed.

A patient result is *released* by a user with the reviewer permission (admin or reviewer; in single-user local mode
the OS user, marked unauthenticated). The release records who, when (UTC), the meaning of the signature ("reviewed and
released"), the result's content hash (SHA-256 of the canonical JSON of the result, its inputs' SHA-256, the settings
with the cut-off profile, and the software version) and the released PDF's bytes. A released version is never changed:
the store has no update path and the database refuses UPDATE and DELETE on the table. A new release for the same
patient and sample is the amended version N+1, naming the version it replaces and listing what changed.

This is not a regulated electronic-signature system (docs/oncologist.md: what 21 CFR Part 11 would need).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tdm1core._version import __version__

__all__ = ["SIGNATURE_MEANING", "ReleaseStamp", "ReleasedReport", "report_id", "result_content", "content_hash",
           "changes_between", "released_json"]

SIGNATURE_MEANING = "reviewed and released"


def report_id(patient_id: str | None, sample: str) -> str:
    """One report per patient and sample; its versions share this ID."""
    return "TDM1-" + hashlib.sha256(f"{patient_id or ''}\x1f{sample}".encode()).hexdigest()[:12].upper()


def result_content(result: Any, provenance: Any, monitoring: Any = None) -> dict[str, Any]:
    """What a released report attests: the result as ``call --json`` has it, the inputs and the software; with the
    patient's serial-monitoring timeline (``monitoring``: tdm1core.stats.monitoring.Timeline) when the report carries
    it, so that the release's digest covers the timeline page too (without one the content is as before)."""
    from tdm1core.jsontext import json_safe

    content = {"result": result.to_dict(), "provenance": provenance.to_dict(), "software": f"tdm1core {__version__}"}
    if monitoring is not None:
        content["monitoring"] = monitoring.to_dict()
    return json_safe(content)


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ReleaseStamp:
    """What the released PDF prints instead of blank signature lines."""

    report_id: str
    version: int
    reviewer: str
    reviewer_authenticated: bool
    released_at: str  # ISO 8601 UTC
    meaning: str = SIGNATURE_MEANING
    replaces: int | None = None
    changes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "amended" if self.version > 1 else "final"

    def lines(self) -> list[str]:
        who = self.reviewer + ("" if self.reviewer_authenticated else " (not authenticated: single-user local mode)")
        out = [f"Report {self.report_id}, version {self.version} ({self.status}). {self.meaning.capitalize()} by {who} "
               f"at {self.released_at}."]
        if self.replaces:
            out.append(f"Amended report: replaces version {self.replaces}. What changed: " + "; ".join(self.changes) + ".")
        return out


@dataclass(frozen=True)
class ReleasedReport:
    """One stored, immutable version of a released report."""

    stamp: ReleaseStamp
    patient_id: str | None
    sample: str
    content: dict[str, Any] = field(repr=False)
    content_sha256: str
    pdf_sha256: str
    reviewer_subject: str | None = None
    reviewer_email: str | None = None

    def to_dict(self) -> dict[str, Any]:
        s = self.stamp
        return {"report_id": s.report_id, "version": s.version, "status": s.status, "patient_id": self.patient_id,
                "sample": self.sample, "released_at": s.released_at, "reviewer": s.reviewer,
                "reviewer_email": self.reviewer_email, "reviewer_subject": self.reviewer_subject,
                "reviewer_authenticated": s.reviewer_authenticated, "signature_meaning": s.meaning,
                "replaces_version": s.replaces, "changes": list(s.changes), "content_sha256": self.content_sha256,
                "pdf_sha256": self.pdf_sha256, "content": self.content}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReleasedReport":
        stamp = ReleaseStamp(d["report_id"], int(d["version"]), d["reviewer"], bool(d["reviewer_authenticated"]),
                             d["released_at"], d.get("signature_meaning", SIGNATURE_MEANING), d.get("replaces_version"),
                             tuple(d.get("changes", ())))
        return cls(stamp, d.get("patient_id"), d["sample"], d["content"], d["content_sha256"], d["pdf_sha256"],
                   d.get("reviewer_subject"), d.get("reviewer_email"))


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value, sort_keys=True, default=str)}
    return {prefix: value}


_NAMES = {"result.er": "ER status", "result.pr": "PR status", "result.patient_id": "patient ID",
          "result.collection_date": "collection date", "result.flag.status": "flag", "result.her2.call": "HER2 call",
          "result.her2.ratio": "HER2/EFTUD2 ratio", "provenance.sha256": "input file (SHA-256)",
          "provenance.file_name": "input file name", "software": "software version"}


def changes_between(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """What changed from one released content to the next, as a reader says it ("ER status positive → negative",
    "threshold changed: her2_ratio_cutoff 1.25 → 1.3")."""
    a, b = _flat(old), _flat(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        if key.startswith("result.settings."):
            out.append(f"setting {key.split('.', 2)[2]} {a.get(key)} → {b.get(key)}")
        elif key in _NAMES:
            out.append(f"{_NAMES[key]} {a.get(key) if a.get(key) is not None else 'not given'} → "
                       f"{b.get(key) if b.get(key) is not None else 'not given'}")
        elif key.startswith("result.pik3ca.") and key.endswith((".call", ".result")):
            out.append(f"PIK3CA {key.split('.')[2]} {a.get(key)} → {b.get(key)}")
    # reasons, warnings and the like follow from the changes above; they are not listed one by one
    return tuple(out) or ("no change in the result (a re-release)",)


def released_json(report: ReleasedReport) -> dict[str, Any]:
    """The released result for other programs: the ``call --json`` object with the release's metadata
    (documented by ``tdm1core/schemas/released_result.schema.json``)."""
    d = report.to_dict()
    content = d.pop("content")
    return {"schema": "tdm1core released result 1", "release": d, "result": content["result"],
            "provenance": content["provenance"], "software": content["software"]}


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
