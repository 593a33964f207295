"""Checks of a resource against an HL7 Genomics Reporting STU3 (3.0.0) profile, read from the guide's own FSH sources
(../shared/docs/fhir-genomics-reporting-3.0.0/): the official Java validator is not in the registries here, and no
Python validator on PyPI reads FSH or the guide's StructureDefinitions offline, so the checks are written from the
definitions (docs/fhir.md says so).

What is checked, for the profile and each of its parents: ``meta.profile`` declared; fixed codes (``* code = …``);
top-level cardinalities (``* category 2..*``, ``* value[x] 0..0``, ``* derivedFrom 1..*``); type restrictions
(``* effective[x] only dateTime``); the category slices with their fixed codings and cardinalities; each component
slice (found by its fixed code): its cardinality, its value type (``only``), ``value[x] 1..1``, a fixed
``value[x].system``, required bindings the guide names (HGVS, LOINC answer lists); the required binding of the
Variant's value (LOINC LL1971-2); the invariant ``cnt-3`` on a copy-number component. Rules about references'
targets (open slices), extensions and the text of ``^short`` are not checked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "shared" / "docs" / "fhir-genomics-reporting-3.0.0"
CANONICAL = "http://hl7.org/fhir/uv/genomics-reporting"

# the members of required value sets the profiles bind to, where the guide's files do not list them: LOINC's answer
# lists (https://loinc.org/LL1971-2 "Variant assessment": Present, Absent, No call, Indeterminate)
REQUIRED_SETS = {"http://loinc.org/vs/LL1971-2": {("http://loinc.org", c) for c in
                                                   ("LA9633-4", "LA9634-2", "LA18198-4", "LA11884-6")}}
SYSTEM_SETS = {"HGVSVS": "http://varnomen.hgvs.org"}  # bindings to a whole code system


@dataclass
class Slice:
    name: str
    min: int = 0
    max: float = float("inf")
    code: tuple[str, str] | None = None
    value_types: tuple[str, ...] = ()
    value_min: int = 0
    value_system: str | None = None
    binding: str | None = None


@dataclass
class Profile:
    name: str
    id: str
    parent: str
    fixed_code: tuple[str, str] | None = None
    cards: dict[str, tuple[int, float]] = field(default_factory=dict)
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)
    categories: dict[str, Slice] = field(default_factory=dict)
    components: dict[str, Slice] = field(default_factory=dict)
    value_binding: str | None = None

    @property
    def url(self) -> str:
        return f"{CANONICAL}/StructureDefinition/{self.id}"


def _aliases() -> dict[str, str]:
    out = {}
    for line in (GUIDE / "Aliases.fsh").read_text().splitlines():
        m = re.match(r"Alias:\s*(\S+)\s*=\s*(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    text = (GUIDE / "CGCodeSystem.fsh").read_text()
    for m in re.finditer(r"CodeSystem:\s*(\S+)\s*\nId:\s*(\S+)(?P<body>.*?)(?=\nCodeSystem:|\Z)", text, re.S):
        url = re.search(r'\^url\s*=\s*"([^"]+)"', m.group("body"))
        out[m.group(1)] = url.group(1) if url else f"{CANONICAL}/CodeSystem/{m.group(2)}"
    return out


def _code(token: str, aliases: dict[str, str]) -> tuple[str, str]:
    system, code = token.split("#", 1)
    return aliases.get(system, system), code


def _card(text: str) -> tuple[int, float]:
    low, high = text.split("..")
    return int(low), float("inf") if high == "*" else int(high)


def _rules(body: str) -> list[str]:
    """The profile's rules, one per line, continued ``contains … and`` lines joined; comments and ``\"\"\"`` blocks
    dropped."""
    body = re.sub(r'"""(.*?)"""', '""', body, flags=re.S)
    out: list[str] = []
    for line in body.splitlines():
        line = re.sub(r"(^|\s)//.*$", "", line).rstrip()  # a comment, not the // of a URL
        if line.startswith("* "):
            out.append(line[2:].strip())
        elif line.strip() and out and " contains" in f" {out[-1]}" and (line[:1].isspace() or line.startswith("and")):
            out[-1] += " " + line.strip()  # a slice list continued on the next lines
    return out


def _slice_target(profile: Profile, path: str) -> tuple[dict[str, Slice], str] | None:
    m = re.match(r"(category|component)\[([\w-]+)\](.*)", path)
    if not m:
        return None
    group = profile.categories if m.group(1) == "category" else profile.components
    return group.setdefault(m.group(2), Slice(m.group(2))), m.group(3)


def _apply(profile: Profile, rule: str, aliases: dict[str, str]) -> None:
    if rule.startswith("^") or " ^" in rule:
        return
    m = re.match(r"(category|component) contains (.+)", rule)
    if m:
        group = profile.categories if m.group(1) == "category" else profile.components
        for item in re.split(r"\s+and\s+", m.group(2)):
            parts = item.split()
            if len(parts) >= 2 and ".." in parts[-1] and "named" not in parts:
                group.setdefault(parts[0], Slice(parts[0])).min, group[parts[0]].max = _card(parts[-1])
        return
    m = re.match(r"(\S+) (\d+\.\.(?:\d+|\*))$", rule)
    if m:
        target = _slice_target(profile, m.group(1))
        if target is None:
            profile.cards[m.group(1)] = _card(m.group(2))
        elif target[1] == ".value[x]":
            target[0].value_min = _card(m.group(2))[0]
        return
    m = re.match(r"(\S+) only (.+)$", rule)
    if m and "Reference(" not in rule:
        types = tuple(t.strip() for t in m.group(2).split(" or "))
        target = _slice_target(profile, m.group(1))
        if target is None:
            profile.only[m.group(1)] = types
        elif target[1] == ".value[x]":
            target[0].value_types = types
        return
    m = re.match(r"(\S+) from (\S+) \(required\)", rule)
    if m:
        target = _slice_target(profile, m.group(1))
        if target is None and m.group(1) == "valueCodeableConcept":
            profile.value_binding = m.group(2)
        elif target is not None and target[1] == ".value[x]":
            target[0].binding = m.group(2)
        return
    m = re.match(r"(\S+) = (\S+)$", rule)
    if m:
        path, value = m.groups()
        if path == "code" and "#" in value:
            profile.fixed_code = _code(value, aliases)
            return
        target = _slice_target(profile, path)
        if target is None:
            return
        if target[1] in (".code", ".coding") and "#" in value:
            target[0].code = _code(value, aliases)
        elif target[1] == ".value[x].system":
            target[0].value_system = aliases.get(value, value)


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    """Every profile of the guide's FSH, by id (its rules parsed as above)."""
    aliases = _aliases()
    found: dict[str, Profile] = {}
    for path in sorted(GUIDE.glob("*.fsh")):
        text = path.read_text()
        for m in re.finditer(r"^Profile:\s*(\S+)\s*\nParent:\s*(\S+)\s*\nId:\s*(\S+)(?P<body>.*?)(?=^Profile:|^Extension:|"
                             r"^ValueSet:|^CodeSystem:|^Instance:|^Invariant:|\Z)", text, re.S | re.M):
            p = Profile(m.group(1), m.group(3), m.group(2))
            for rule in _rules(m.group("body")):
                _apply(p, rule, aliases)
            found[p.id] = p
    return found


def _chain(profile_id: str) -> list[Profile]:
    by_name = {p.name: p for p in profiles().values()}
    chain, p = [], profiles()[profile_id]
    while p is not None:
        chain.append(p)
        p = by_name.get(p.parent)
    return chain


def _codings(concept: object) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    return [(c.get("system"), c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict)]


def _values(element: dict) -> dict[str, object]:
    return {k: v for k, v in element.items() if k.startswith("value") and k != "value"}


def _count(resource: dict, path: str) -> int:
    if path.endswith("[x]"):
        stem = path[:-3]
        return sum(1 for k in resource if k.startswith(stem) and k != stem)
    v = resource.get(path)
    return 0 if v is None else (len(v) if isinstance(v, list) else 1)


def _check_slice(s: Slice, found: list[dict], where: str) -> list[str]:
    errors = []
    if not s.min <= len(found) <= s.max:
        errors.append(f"{where}[{s.name}]: {len(found)} found, the profile allows {s.min}..{s.max}")
    for el in found:
        values = _values(el)
        if s.value_min and len(values) != 1:
            errors.append(f"{where}[{s.name}]: needs exactly one value[x], has {sorted(values) or 'none'}")
        for key, value in values.items():
            if s.value_types and key.removeprefix("value") not in {t[:1].upper() + t[1:] for t in s.value_types}:
                errors.append(f"{where}[{s.name}]: {key} where the profile allows only {', '.join(s.value_types)}")
            if s.value_system and isinstance(value, dict) and value.get("system") != s.value_system:
                errors.append(f"{where}[{s.name}].value[x].system must be {s.value_system}")
            if s.binding in SYSTEM_SETS and not any(sys == SYSTEM_SETS[s.binding] for sys, _ in _codings(value)):
                errors.append(f"{where}[{s.name}]: the value must be coded in {SYSTEM_SETS[s.binding]} ({s.binding})")
            if s.binding in REQUIRED_SETS and not set(_codings(value)) & REQUIRED_SETS[s.binding]:
                errors.append(f"{where}[{s.name}]: the value is not in {s.binding}")
        if s.name == "copy-number":
            q = el.get("valueQuantity") or {}
            if q and (q.get("code") != "1" or q.get("system") not in (None, "http://unitsofmeasure.org")
                      or "." in str(q.get("value", ""))):
                errors.append(f"{where}[copy-number]: invariant cnt-3")
    return errors


def check(resource: dict, profile_id: str) -> list[str]:
    """Every way ``resource`` breaks the profile (an empty list: it conforms to what is checked here)."""
    chain = _chain(profile_id)
    errors = []
    if chain[0].url not in ((resource.get("meta") or {}).get("profile") or []):
        errors.append(f"meta.profile does not declare {chain[0].url}")
    for p in chain:
        if p.fixed_code and p.fixed_code not in _codings(resource.get("code")):
            errors.append(f"{p.name}: code must carry {p.fixed_code[0]}#{p.fixed_code[1]}")
        for path, (low, high) in p.cards.items():
            if "." in path or "[" in path.replace("[x]", ""):
                continue
            n = _count(resource, path)
            if not low <= n <= high:
                errors.append(f"{p.name}: {path} has {n}, the profile allows {low}..{high if high != float('inf') else '*'}")
        for path, types in p.only.items():
            if path.endswith("[x]") and "." not in path:
                stem = path[:-3]
                bad = [k for k in resource if k.startswith(stem) and k != stem
                       and k.removeprefix(stem) not in {t[:1].upper() + t[1:] for t in types}]
                if bad:
                    errors.append(f"{p.name}: {', '.join(bad)} where only {', '.join(types)} is allowed")
        for s in p.categories.values():
            found = [c for c in resource.get("category") or [] if s.code and _codings(c) == [s.code]]
            errors += _check_slice(s, found, f"{p.name}: category")
        for s in p.components.values():
            if s.code is None:
                continue
            found = [c for c in resource.get("component") or [] if s.code in _codings(c.get("code"))]
            errors += _check_slice(s, found, f"{p.name}: component")
        if p.value_binding in REQUIRED_SETS and "valueCodeableConcept" in resource:
            if not set(_codings(resource["valueCodeableConcept"])) & REQUIRED_SETS[p.value_binding]:
                errors.append(f"{p.name}: valueCodeableConcept is not in {p.value_binding}")
    return errors


def check_bundle(bundle: dict) -> dict[str, list[str]]:
    """Each resource of the bundle that declares a profile of the guide, checked against it (by fullUrl)."""
    out = {}
    for entry in bundle.get("entry") or []:
        r = entry["resource"]
        for url in (r.get("meta") or {}).get("profile") or []:
            if url.startswith(f"{CANONICAL}/StructureDefinition/"):
                out[entry["fullUrl"]] = check(r, url.rsplit("/", 1)[1])
    return out
