"""Importing a FHIR Bulk Data export (issue 29): 10,000 patients, about 100,000 resources (per patient: Patient, ER, PR,
the breast cancer Condition, T-DM1 and two earlier therapies as MedicationStatements, two imaging responses, the ctDNA
Specimen), one NDJSON file per resource type as ``$export`` writes, into a fresh SQLite database, done as a user
would: ``python -m tdm1core import fhir FOLDER --db URL`` (whole process, timed), first with ``--preview``.

Target: the import < 10 s. The input is synthetic (random values), written as JSON text directly (a sample of it is
validated with fhir.resources' R4B models first, so the fast writer writes what the models accept).

    python bench/bench_fhir_import.py [--patients 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOINC, SNOMED, RXNORM = "http://loinc.org", "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm"
PSEUDONYM = "https://hospital.example/research-pseudonym"


def _cc(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [{"system": system, "code": code, **({"display": display} if display else {})}]}


def patient_resources(i: int, rng: random.Random) -> list[dict]:
    pid, ref = f"B{i:06d}", {"reference": f"Patient/p{i}"}
    start = f"{rng.randint(2012, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    year = int(start[:4])
    out = [{"resourceType": "Patient", "id": f"p{i}", "identifier": [{"system": PSEUDONYM, "value": pid}],
            "name": [{"family": f"Family{i}", "given": ["Given"]}], "gender": "female",
            "birthDate": f"{year - rng.randint(30, 85)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}]
    for code in ("16112-5", "16113-3"):
        out.append({"resourceType": "Observation", "id": f"o{code[:5]}-{i}", "status": "final", "subject": ref,
                    "code": _cc(LOINC, code), "valueCodeableConcept": _cc(LOINC, rng.choice(["LA6576-8", "LA6577-6"]))})
    cond = {"resourceType": "Condition", "id": f"c{i}", "subject": ref, "code": _cc(SNOMED, "254837009")}
    if rng.random() < 0.6:
        cond["clinicalStatus"] = _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "recurrence")
    else:
        cond["stage"] = [{"summary": {"text": "Stage IV"}}]
    out.append(cond)
    out.append({"resourceType": "MedicationStatement", "id": f"t{i}", "status": "completed", "subject": ref,
                "effectivePeriod": {"start": start}, "medicationCodeableConcept": _cc(RXNORM, "1371041")})
    for k, code in enumerate(("224905", rng.choice(["1298944", "56946", "194000"]))):
        out.append({"resourceType": "MedicationStatement", "id": f"m{k}-{i}", "status": "completed", "subject": ref,
                    "effectivePeriod": {"start": f"{year - 1}-01-1{k}"}, "medicationCodeableConcept": _cc(RXNORM, code)})
    for k, month in enumerate((3, 9)):
        day = f"{year + 1}-{month:02d}-15"
        out.append({"resourceType": "Observation", "id": f"r{k}-{i}", "status": "final", "subject": ref,
                    "effectiveDateTime": day, "code": _cc(LOINC, "88040-1"),
                    "valueCodeableConcept": {"text": rng.choice(["PR", "SD", "PD"]) if k else rng.choice(["PR", "SD"])}})
    out.append({"resourceType": "Specimen", "id": f"s{i}", "subject": ref,
                "identifier": [{"system": "urn:tdm1core:sample", "value": f"{pid}-plasma"}]})
    return out


def write_export(folder: Path, n: int) -> int:
    rng = random.Random(n)
    files: dict[str, list[str]] = {}
    count = 0
    for i in range(n):
        for r in patient_resources(i, rng):
            files.setdefault(r["resourceType"], []).append(json.dumps(r, separators=(",", ":")))
            count += 1
    for kind, lines in files.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    return count


def check_sample() -> None:
    """The writer's resources are valid R4 (fhir.resources' R4B models), on a sample."""
    from fhir.resources.R4B import get_fhir_model_class

    for r in patient_resources(0, random.Random(0)) + patient_resources(1, random.Random(1)):
        get_fhir_model_class(r["resourceType"]).model_validate(r)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "TDM1_USER": "fhir-bench@example.org"})
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return seconds, float(p.stderr.strip().splitlines()[-1]) / 1024, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10_000)
    args = ap.parse_args()
    check_sample()
    with tempfile.TemporaryDirectory(prefix="tdm1fhir-") as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        resources = write_export(folder, args.patients)
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        db = f"sqlite:///{Path(tmp) / 'fhir.sqlite'}"
        py = [sys.executable, "-m", "tdm1core", "import", "fhir", str(folder), "--db", db, "--patient-id-system", PSEUDONYM]
        rows = []
        for label, cmd in (("import fhir --preview", py + ["--preview"]), ("import fhir", py)):
            seconds, mb, out = timed(cmd)
            rows.append((label, seconds, mb, out.splitlines()[0][:90]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; whole processes; "
          f"synthetic data; {args.patients} patients, {resources} resources, {size:.1f} MB of NDJSON")
    print(f"{'work':<26}{'seconds':>9}{'peak MB':>9}{'target':>9}  first line printed")
    for label, seconds, mb, first in rows:
        target = "10 s" if label == "import fhir" and args.patients == 10_000 else ""
        print(f"{label:<26}{seconds:>9.2f}{mb:>9.0f}{target:>9}  {first}")


if __name__ == "__main__":
    main()
