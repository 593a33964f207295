"""PDF reports: the values (computed independently) are in the text, fonts are embedded, layout survives long inputs."""
import hashlib
from dataclasses import replace

import numpy as np
import pytest
from pypdf import PdfReader

from tdm1core.calling.calls import call_export
from tdm1core.app.cli import _demo_cohort
from tdm1core.reading.exports import read_export
from tdm1core.demo import demo_export_path
from tdm1core.measuring.poisson import concentration
from tdm1core.reporting.report import Provenance, cohort_report, patient_report
from tdm1core.clinical.risk import PatientResult
from tdm1core.settings import Settings
from tdm1core.stats import analyse_cohort

import io


def text_of(pdf: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(p.extract_text() for p in reader.pages), reader


def independent_ratio(sample: str) -> float:
    """HER2/EFTUD2 from the raw counts with the csv module and Bio-Rad's formula (not the parser)."""
    import csv

    rows = list(csv.DictReader(demo_export_path().open(newline="")))
    pos = {r["Target"]: (int(r["Positives"]), int(r["AcceptedDroplets"])) for r in rows if r["Sample"] == sample}
    return concentration(*pos["HER2"], 0.85) / concentration(*pos["EFTUD2"], 0.85)


@pytest.fixture(scope="module")
def demo():
    return _demo_cohort(Settings())


def patient_pdf(sample: str, er: str, pid: str = "PID-1") -> bytes:
    export = read_export(demo_export_path())
    calls = next(c for c in call_export(export) if c.sample == sample)
    return patient_report(PatientResult.from_calls(calls, er, "negative", pid, "2017-03-01"),
                          Provenance(export.name, export.sha256, export.format))


@pytest.mark.parametrize("sample,er,headline", [("P06", "positive", "At risk of primary resistance to T-DM1"),
                                                ("P09", "positive", "Not flagged")])
def test_patient_report_holds_flag_ratio_settings_and_sha(sample, er, headline):
    text, reader = text_of(patient_pdf(sample, er))
    assert len(reader.pages) == 1
    assert headline in text
    assert f"{independent_ratio(sample):.2f}" in text
    sha = hashlib.sha256(demo_export_path().read_bytes()).hexdigest()
    assert sha in text.replace("\n", "")
    assert "HER2/EFTUD2 ratio cut-off 1.25" in text and "Research use only" in text
    assert "DRAFT — NOT RELEASED" in text  # not released: a draft, on the page and in the footer


def test_fonts_are_embedded(demo):
    cohort, _ = demo
    fonts = []
    readers = [text_of(patient_pdf("P06", "positive"))[1],
               text_of(cohort_report(cohort, analyse_cohort(cohort), Provenance("demo", None)))[1]]
    for page in (pg for r in readers for pg in r.pages):
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = f.get("/FontDescriptor") or f["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            fonts.append("/FontFile2" in desc.get_object())
    assert fonts and all(fonts)


def test_forty_character_patient_id_is_printed_whole_on_one_page():
    pid = "ABCDEFGHIJ-0123456789-KLMNOPQRST-98765432"
    assert len(pid) == 41
    text, reader = text_of(patient_pdf("P06", "positive", pid))
    assert len(reader.pages) == 1
    assert pid in text.replace("\n", "")


def test_cohort_report_holds_fisher_p_values_and_km_medians(demo):
    cohort, exports = demo
    calls = [c for e in exports for c in call_export(e)]
    text, reader = text_of(cohort_report(cohort, analyse_cohort(cohort, calls=calls), Provenance("demo", "f" * 64)))
    for p in ("0.438", "0.245", "0.050", "0.462", "1.000"):
        assert p in text
    assert "56.6" in text and "36.0–NA" in text and "318.0" in text and "187.0–NA" in text
    assert "log-log" in text and "SYNTHETIC" in text and "f" * 64 in text.replace("\n", "")
    assert len(reader.pages) >= 4


def test_two_hundred_row_cohort_report_repeats_headers(demo):
    cohort, _ = demo
    rng = np.random.default_rng(0)
    big = replace(cohort, patients=cohort.patients.iloc[rng.integers(0, 34, 200)].reset_index(drop=True))
    big.patients["patient_id"] = [f"R{i:03d}" for i in range(200)]
    text, reader = text_of(cohort_report(big, analyse_cohort(big), Provenance("big", None)))
    assert "200 (" in text
    assert text.count("Characteristic") >= 2


def test_report_command_line(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "p.pdf"
    p = subprocess.run([sys.executable, "-m", "tdm1core", "report", "patient", str(demo_export_path()), "--sample", "P06",
                        "--er", "pos", "--pr", "neg", "--patient-id", "X-1", "-o", str(out)], cwd=ROOT, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert "At risk of primary resistance" in text_of(out.read_bytes())[0]
    out2 = tmp_path / "c.pdf"
    p = subprocess.run([sys.executable, "-m", "tdm1core", "report", "cohort", "--demo", "-o", str(out2)], cwd=ROOT, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert "Table 4" in text_of(out2.read_bytes())[0]


def test_demo_manual_entry_target_map_and_droplet_volume_are_stamped_on_the_patient_pdf():
    from builders import qs17, sample_wells
    from tdm1core.calling.calls import ManualEntry
    from tdm1core.app.workflows import assess_manual, assess_upload, patient_result

    demo_a = assess_upload(demo_export_path().read_bytes(), "renamed.csv", Settings())
    text, _ = text_of(patient_report(patient_result(demo_a.sample("P06"), "pos", "neg"), demo_a.provenance))
    assert "SYNTHETIC DEMO DATA: not patient data" in text  # recognised by its bytes, whatever the file name
    wells = sample_wells("S1")
    wells[0] = wells[0].__class__(**{**wells[0].__dict__, "ch1_target": "HbS"})
    s = Settings(target_aliases=(("HbS", "HER2"),), droplet_volume_nl=0.86)
    lab = assess_upload(qs17(wells), "lab.csv", s)
    text, _ = text_of(patient_report(patient_result(lab.sample("S1"), "pos", "neg"), lab.provenance))
    flat = " ".join(text.split())
    assert "HbS (Ch1) → HER2 [lab alias]" in flat and "Droplet volume used: 0.86 nL" in flat
    assert "SYNTHETIC" not in text
    calls, prov = assess_manual(ManualEntry(her2_ratio=1.1), Settings())
    text, _ = text_of(patient_report(patient_result(calls, "pos", "neg"), prov))
    assert "MANUAL ENTRY: numbers typed in by hand, no droplet QC" in " ".join(text.split())


def test_cohort_pdf_page_one_summarises_and_headers_do_not_break_mid_word():
    cohort, exports = _demo_cohort(Settings())
    stats = analyse_cohort(cohort, Settings(), calls=[c for e in exports for c in call_export(e)])
    pdf = cohort_report(cohort, stats, Provenance(cohort.source, cohort.sha256))
    reader = PdfReader(io.BytesIO(pdf))
    first = " ".join((reader.pages[0].extract_text() or "").split())
    assert "SYNTHETIC DEMO DATA" in first
    for words in ("Patients 34 (16 with ctDNA)", "at risk: 5, not flagged: 11", "Flag sensitivity 100% (4/4",
                  "Median TTP, at risk 56.6 days (95% CI 36.0–NA)", "Log-rank test p = 0.0038"):
        assert words in first, words
    t3 = next(p.extract_text() for p in reader.pages if "Table 3." in (p.extract_text() or ""))
    for broken in ("Resistan\n", "Flagge\n", "amplifie\n"):
        assert broken not in t3


def test_a_report_from_droplet_files_carries_the_classification_and_the_droplet_plots():
    import io
    import sys
    from pathlib import Path

    from pypdf import PdfReader

    sys.path.insert(0, str(Path(__file__).parent))
    from builders import plate_droplet_files, qs17, sample_wells
    from tdm1core.reading.plate import sample_droplets
    from tdm1core.reporting.report import patient_report
    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.reading.thresholds import DropletThresholds
    from tdm1core.app.workflows import assess_droplets, patient_result

    wells = sample_wells("P1", her2=900, eftud2=1000, e545k_mut=5)
    assessment, classified = assess_droplets(plate_droplet_files(wells, "Run1") + [(qs17(wells), "names.csv")],
                                             DEFAULT_SETTINGS, DropletThresholds(method="auto"))
    panels = sample_droplets(classified, "P1")
    assert [(p.well, p.channel) for p in panels] == [(w, ch) for w in ("A01", "B01", "C01", "D01") for ch in ("Ch1", "Ch2")] \
        or sorted((p.well, p.channel) for p in panels) == sorted((w, ch) for w in ("A01", "B01", "C01", "D01") for ch in ("Ch1", "Ch2"))
    result = patient_result(assessment.calls[0], "positive", "negative", "PX-7")
    pdf = patient_report(result, assessment.provenance, droplets=panels)
    pages = PdfReader(io.BytesIO(pdf)).pages
    first, second = pages[0].extract_text(), pages[1].extract_text()
    assert "Droplet classification: automatic thresholds" in first.replace("\n", " ")
    assert assessment.provenance.sha256 in first.replace("\n", "")
    assert "Appendix: the droplets behind the calls" in second and "C01 Ch1 PIK3CA E545K MUT: 5 positive" in second.replace("\n", " ")
    assert len(pages[1].images) == 1  # the droplet plots


def test_pdfs_built_at_the_same_moment_by_fresh_sessions_all_succeed():
    """Issue 28's load test through the proxy found PDFs failing under concurrent sessions ("Can't map determine
    family/bold/italic for dejavusans-bold"): the fonts were registered lazily without a lock. In a fresh process
    (nothing registered yet), eight threads build a patient PDF at the same moment, several times over."""
    import subprocess
    import sys

    code = r'''
import threading
from builders import qs17, sample_wells
import tdm1core.app.workflows as wf
from tdm1core.settings import Settings
from reportlab.lib import fonts
from reportlab.pdfbase import pdfmetrics
import tdm1core.reporting.report as report
a = wf.assess_upload(qs17(sample_wells("S1", her2=900)), "r.csv", Settings(), "me")
result = wf.patient_result(a.calls[0], "positive", "negative", "PX", actor="me")
failures = []
for round_ in range(6):
    for name in ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"):  # as in a new process: nothing registered
        pdfmetrics._fonts.pop(name, None)
    for table in (fonts._tt2ps_map, fonts._ps2tt_map):
        for k in [k for k in table if "dejavu" in str(k).lower()]:
            table.pop(k)
    getattr(report, "_FONTS_READY", []).clear()
    barrier = threading.Barrier(8)
    def build():
        barrier.wait()
        try:
            assert wf.patient_report_pdf(None, result, a.provenance, actor="me").startswith(b"%PDF")
        except Exception as exc:
            failures.append(repr(exc)[:200])
    threads = [threading.Thread(target=build) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
print("FAILURES", len(failures), failures[:2])
'''
    ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT),
                       env={**__import__("os").environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}, timeout=300)
    assert "FAILURES 0 []" in p.stdout, (p.stdout[-2000:], p.stderr[-2000:])
