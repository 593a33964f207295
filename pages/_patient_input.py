"""The Patient page's input section: an export, a plate of droplet files, the demo export or typed numbers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from pages._common import assessed_droplets, assessed_upload, droplet_thresholds, md, show_error, who
from tdm1core import InputError, ManualEntry, Settings
from tdm1core.app.patient import assess_manual
from tdm1core.clinical.provenance import Provenance
from tdm1core.demo import demo_export_path
from tdm1core.panel import HOTSPOTS

MODES = ["Upload a ddPCR export", "Upload droplet files (a plate)", "Use the built-in demo export", "Enter the numbers"]


@dataclass(frozen=True)
class PatientInput:
    """What the input section read: the chosen sample's calls (None until there is input), where they came from."""

    calls: Any = None
    provenance: Provenance = Provenance.manual_entry()
    source_name: str | None = None
    assessment: Any = None
    plate: Any = None  # the classified plate, for droplet files


def _chosen_sample(assessment: Any, export_name: str, key: str, plate: Any = None) -> PatientInput:
    export = assessment.export
    for w in export.warnings:
        st.warning(md(w))
    samples = assessment.samples
    chosen = st.selectbox("Sample", samples, key=key) if len(samples) > 1 else samples[0]
    return PatientInput(assessment.sample(chosen), assessment.provenance,
                        f"{export_name} ({export.format}, SHA-256 {export.sha256[:12]}…)", assessment, plate)


def _droplet_files(s: Settings) -> PatientInput:
    thresholds = droplet_thresholds()
    uploads = st.file_uploader("A zipped plate of droplet amplitude files with its results export (or the files)",
                               type=["csv", "txt", "zip"], accept_multiple_files=True, key="patient_droplets")
    st.caption(f"Droplet classification: {md(thresholds.describe())} (set on the Droplets page).")
    if not uploads:
        return PatientInput()
    assessment, plate = assessed_droplets([(u.getvalue(), u.name) for u in uploads], s, thresholds)
    return _chosen_sample(assessment, assessment.export.name, "patient_droplet_sample", plate)


def _typed_numbers(s: Settings) -> PatientInput:
    c1, c2, c3 = st.columns(3)
    # no min_value: a widget that refuses a value keeps the previous one, and the card would show a result for a
    # number no longer on screen; every value goes to the core, which refuses it with a message
    ratio = c1.number_input("HER2/EFTUD2 ratio (if reported)", value=None, step=0.01, key="patient_ratio")
    her2 = c2.number_input("HER2 copies per 20 µL", value=None, key="patient_her2")
    eftud2 = c3.number_input("EFTUD2 copies per 20 µL", value=None, key="patient_eftud2")
    pik = {}
    for col, hotspot in zip(st.columns(len(HOTSPOTS)), HOTSPOTS):
        mut = col.number_input(f"{hotspot} mutant copies", value=None, key=f"patient_{hotspot}_mut")
        wt = col.number_input(f"{hotspot} wild-type copies", value=None, key=f"patient_{hotspot}_wt")
        if mut is not None or wt is not None:
            pik[hotspot] = (mut, wt)
    if ratio is None and her2 is None and eftud2 is None and not pik:
        return PatientInput()
    calls, provenance = assess_manual(ManualEntry("manual entry", ratio, her2, eftud2, pik), s, who())
    return PatientInput(calls, provenance, "manual entry")


def _export(s: Settings, demo: bool) -> PatientInput:
    if demo:
        data, name = demo_export_path().read_bytes(), demo_export_path().name
    else:
        upload = st.file_uploader("ddPCR well-level results export (QuantaSoft or QX Manager: CSV, TXT or XLSX)",
                                  type=["csv", "txt", "xlsx"], key="patient_upload")
        data, name = (upload.getvalue(), upload.name) if upload is not None else (None, None)
    if data is None:
        return PatientInput()
    return _chosen_sample(assessed_upload(data, name, s), name, "patient_sample")


def patient_input(s: Settings) -> PatientInput:
    """The input radio and its widgets; the sample's calls with ``s`` (an input error is shown, and nothing called)."""
    mode = st.radio("Input", MODES, horizontal=True, key="patient_mode")
    try:
        if mode == MODES[1]:
            return _droplet_files(s)
        if mode == MODES[3]:
            return _typed_numbers(s)
        return _export(s, demo=mode == MODES[2])
    except InputError as exc:
        show_error(exc)
        return PatientInput()
