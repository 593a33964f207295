"""FHIR input read as JSON resources: a ``Bundle`` (collection, searchset or transaction) or a Bulk Data export (one
NDJSON file per resource type, as ``$export`` writes), each resource with where it came from (file, entry or line).

Anything that is not FHIR JSON is refused whole, with the file and the entry or line: a truncated NDJSON line, a
Bundle of another type, an entry without a resource, a resource without a ``resourceType``. Nothing is mapped here
(:mod:`tdm1core.fhir.mapping` does that).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tdm1core.errors import FhirFormatError

__all__ = ["FhirFormatError", "FhirInput", "Located", "read_fhir", "BUNDLE_TYPES"]

BUNDLE_TYPES = ("collection", "searchset", "transaction")


@dataclass(frozen=True)
class Located:
    """One resource (its JSON object) and where it is: the file and the Bundle entry or NDJSON line."""

    resource: dict
    where: str
    full_url: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.resource.get('resourceType')}/{self.resource.get('id', '?')}"


@dataclass(frozen=True)
class FhirInput:
    """The resources of one import, the files they came from with their SHA-256, and the bytes to store (for a
    folder of NDJSON files: the files joined, itself NDJSON)."""

    resources: tuple[Located, ...]
    files: tuple[tuple[str, str], ...]
    data: bytes
    name: str
    kind: str  # "Bundle (collection)", "Bulk Data NDJSON", ...


def _loads(text: bytes) -> Any:
    try:
        import orjson

        return orjson.loads(text)
    except ImportError:  # pragma: no cover  (orjson is in requirements.txt)
        import json

        return json.loads(text)


def _is_json_error(exc: Exception) -> bool:
    return isinstance(exc, ValueError)  # json.JSONDecodeError and orjson.JSONDecodeError are ValueErrors


def _resource(obj: Any, name: str, where: str) -> dict:
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str) or not obj["resourceType"]:
        raise FhirFormatError(f"{where} is not a FHIR resource (a JSON object with a resourceType).", source=name,
                              hint="Export the data as FHIR R4 JSON (a Bundle, or NDJSON with one resource per line).")
    return obj


def _bundle(obj: dict, name: str) -> list[Located]:
    kind = obj.get("type")
    if kind not in BUNDLE_TYPES:
        raise FhirFormatError(f"a Bundle of type {kind!r}; this import reads {', '.join(BUNDLE_TYPES)} Bundles.",
                              source=name, column="Bundle.type",
                              hint="Export a collection or searchset Bundle, or a Bulk Data ($export) folder.")
    entries = obj.get("entry") or []
    if not isinstance(entries, list):
        raise FhirFormatError("Bundle.entry is not a list.", source=name, column="Bundle.entry")
    out = []
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        if not isinstance(entry, dict) or "resource" not in entry:
            if isinstance(entry, dict) and (entry.get("request") or {}).get("method") == "DELETE":
                continue  # a transaction's deletion carries no resource
            raise FhirFormatError(f"Bundle {where} has no resource.", source=name, column=f"Bundle.{where}.resource")
        if (entry.get("search") or {}).get("mode") == "outcome":
            continue  # a searchset's OperationOutcome: about the search, not the patient
        res = _resource(entry["resource"], name, f"Bundle {where}")
        if res["resourceType"] == "Bundle":
            raise FhirFormatError(f"Bundle {where} is a Bundle inside a Bundle.", source=name, column=f"Bundle.{where}",
                                  hint="Give the inner Bundles as files of their own.")
        url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        out.append(Located(res, f"{name} {where}", url))
    return out


def _ndjson(data: bytes, name: str) -> list[Located]:
    out = []
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = _loads(line)
        except Exception as exc:  # noqa: BLE001  (orjson and json raise their own ValueErrors)
            if not _is_json_error(exc):
                raise
            raise FhirFormatError(f"line {n} is not a complete JSON object (a truncated or damaged file?).",
                                  source=name, row=n, hint="Export the file again; nothing was stored.") from None
        res = _resource(obj, name, f"line {n}")
        if res["resourceType"] == "Bundle":
            out += [Located(x.resource, f"{name} line {n} {x.where.split(' ', 1)[1]}", x.full_url) for x in _bundle(res, name)]
        else:
            out.append(Located(res, f"{name} line {n}"))
    return out


def _parses(line: bytes) -> bool:
    try:
        return isinstance(_loads(line), dict)
    except Exception as exc:  # noqa: BLE001
        if not _is_json_error(exc):
            raise
        return False


def _one_file(data: bytes, name: str) -> tuple[list[Located], str]:
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise FhirFormatError("the file is empty.", source=name)
    try:
        whole = _loads(data)
    except Exception as exc:  # noqa: BLE001  (orjson and json raise their own ValueErrors)
        if not _is_json_error(exc):
            raise
        first = data.strip().split(b"\n", 1)[0]
        if name.lower().endswith(".ndjson") or _parses(first):  # one resource per line
            return _ndjson(data, name), "Bulk Data NDJSON"
        raise FhirFormatError("the file is not complete JSON (truncated or damaged, or not a FHIR export?).",
                              source=name, hint="Export FHIR R4 JSON again: a Bundle, or NDJSON files.") from None
    res = _resource(whole, name, "the file")
    if res["resourceType"] == "Bundle":
        return _bundle(res, name), f"Bundle ({res.get('type')})"
    return [Located(res, name)], "one resource"


def read_fhir(files: "list[tuple[bytes, str]]") -> FhirInput:
    """Read one Bundle file, one NDJSON file, or the NDJSON files of a Bulk Data export (in name order)."""
    if not files:
        raise FhirFormatError("no FHIR file was given.", hint="Give a Bundle (.json) or a Bulk Data folder (.ndjson files).")
    files = sorted(files, key=lambda f: f[1])
    located: list[Located] = []
    kinds = set()
    for data, name in files:
        found, kind = _one_file(data, name)
        located += found
        kinds.add(kind)
    if len(files) == 1:
        data, name = files[0]
    else:
        data = b"".join(d if d.endswith(b"\n") else d + b"\n" for d, _ in files)
        name = f"{len(files)} FHIR files ({files[0][1]} … {files[-1][1]})"
    return FhirInput(tuple(located), tuple((n, hashlib.sha256(d).hexdigest()) for d, n in files), data, name,
                     " + ".join(sorted(kinds)))
