"""The audit log read by a person: ISO 8601 times with the zone (UTC) and details as sentences, not JSON."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

__all__ = ["iso_utc", "describe_detail", "readable_audit", "readable_files"]


def iso_utc(value: Any) -> str:
    """An ISO 8601 time in UTC with its zone (``2026-12-01T12:00:00Z``); stored naive times are UTC."""
    if value is None or (isinstance(value, float) and value != value):
        return "NA"
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return "NA"
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime().replace(microsecond=0).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(v: Any) -> str:
    if v is None or v == "":
        return "blank"
    if isinstance(v, dict):
        return "; ".join(f"{k} {_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if len(v) == 2 and not any(isinstance(x, (dict, list)) for x in v):
            return f"{_value(v[0])} → {_value(v[1])}"
        return ", ".join(_value(x) for x in v)
    return str(v)


def describe_detail(detail: Any) -> str:
    """A stored JSON detail as one readable line ("name demo.csv · wells 128 · ...")."""
    if detail is None or detail == "":
        return ""
    try:
        data = json.loads(detail) if isinstance(detail, str) else detail
    except (TypeError, ValueError):
        return str(detail)
    if not isinstance(data, dict):
        return _value(data)
    parts = []
    for key, v in data.items():
        if key == "settings":
            continue  # the full settings are in the CSV download
        if key == "changed" and isinstance(v, list):
            parts.append(f"changed {len(v)} patient(s): " + "; ".join(
                f"{c.get('patient_id')}: " + ", ".join(f"{k} {_value(c.get('previous', {}).get(k))} → {_value(n)}"
                                                      for k, n in c.get("new", {}).items()) for c in v[:5])
                         + (" …" if len(v) > 5 else ""))
            continue
        parts.append(f"{key.replace('_', ' ')}: {_value(v)}")
    return " · ".join(parts)


def readable_audit(log: pd.DataFrame) -> pd.DataFrame:
    """The audit log for reading: when (UTC), who (and the token's subject when it differs), write or access, the
    action, what, the details as words, and the app session (shortened)."""
    n = len(log)

    def col(name: str) -> list:
        return log[name].tolist() if name in log else [None] * n

    who = [w if not s or s == w else f"{w} (subject {s})" for w, s in zip(col("who"), col("subject"))]
    out = pd.DataFrame({
        "when (UTC)": [iso_utc(v) for v in log.get("at", [])],
        "who": who,
        "kind": [c or "write" for c in col("category")],
        "action": col("action"),
        "what": col("entity"),
        "details": [describe_detail(d) for d in log.get("detail", [])],
        "session": [(x or "")[:12] for x in col("session")],
    })
    return out


def readable_files(files: pd.DataFrame) -> pd.DataFrame:
    out = files.copy()
    if "uploaded_at" in out:
        out["uploaded_at"] = [iso_utc(v) for v in out["uploaded_at"]]
        out = out.rename(columns={"uploaded_at": "uploaded (UTC)"})
    return out
