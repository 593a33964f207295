"""Shared UI helpers for the pages: settings in session state, cached core calls, banners, downloads.

No statistics and no parsing here: every number comes from tdm1core.
"""
from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd
import streamlit as st

from tdm1core import Settings, __version__
from tdm1core.calls import call_export
from tdm1core.cohort import Cohort, load_cohort
from tdm1core.ddpcr import read_export
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.export import to_csv_bytes, to_xlsx_bytes
from tdm1core.risk import LIMITS

SETTINGS_KEY = "settings"
SOURCE_KEY = "cohort_source"  # {"kind": "demo"} or {"kind": "upload", "patients": (name, bytes), "exports": [(name, bytes)]}
EVIDENCE_LINE = ("Exploratory evidence: in the study, all 4 primary-resistant patients of the 16 with ctDNA had HER2 not "
                 "amplified in ctDNA and an ER- and/or PR-positive tumour. Research use only; not a diagnostic device.")
FLAG_STYLE = {  # icon, colour (Okabe-Ito), words: the card reads without colour
    "at risk": ("⚠", "#D55E00", "#FBE3D6"),
    "not flagged": ("✓", "#0072B2", "#DCEBF6"),
    "incomplete": ("?", "#595959", "#EDEDED"),
}


def settings() -> Settings:
    if SETTINGS_KEY not in st.session_state:
        st.session_state[SETTINGS_KEY] = Settings()
    return st.session_state[SETTINGS_KEY]


def settings_key(s: Settings) -> str:
    return json.dumps(s.to_dict(), sort_keys=True)


def source() -> dict:
    return st.session_state.get(SOURCE_KEY, {"kind": "demo"})


def is_demo() -> bool:
    return source()["kind"] == "demo"


VIA_APP_KEY = "_run_via_app"


def page_header(title: str) -> None:
    """Every page starts here: the title, the synthetic-data notice on demo data, and the evidence line.

    A page reached by an old URL on a fresh server can be run by Streamlit's ``pages/`` discovery without
    app.py (so without the navigation and settings sidebar); it is sent to app.py instead.
    """
    if not st.session_state.get(VIA_APP_KEY):
        st.switch_page("app.py")
    st.title(title)
    banner()


def banner() -> None:
    """The evidence line and, on demo data, the synthetic-data notice."""
    if is_demo():
        st.info("**Synthetic demo data** (not patient data), reconstructed to match the study's published values.", icon=":material/science:")
    st.caption(EVIDENCE_LINE)


def show_error(exc: Exception) -> None:
    st.error(str(exc), icon=":material/error:")


def stamp(s: Settings) -> None:
    st.caption(f"Settings used: {s.describe()}. Software tdm1core {__version__}.")


# ------------------------------------------------------------------ cached core calls

@st.cache_data(show_spinner=False, max_entries=4)
def _demo_cohort(settings_json: str) -> tuple[Cohort, list]:
    s = Settings.from_dict(json.loads(settings_json))
    export = read_export(demo_export_path(), settings=s)
    cohort = load_cohort((DEMO_DIR / "demo_patients.csv").read_bytes(), "built-in synthetic demo", [export], s)
    return cohort, call_export(export, s)


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def _uploaded_cohort(patients: tuple[str, bytes], exports: tuple[tuple[str, bytes], ...], settings_json: str) -> tuple[Cohort, list]:
    s = Settings.from_dict(json.loads(settings_json))
    parsed = [read_export(data, name, s) for name, data in exports]
    cohort = load_cohort(patients[1], patients[0], parsed, s)
    return cohort, [c for e in parsed for c in call_export(e, s)]


@st.cache_data(show_spinner=False, max_entries=16, scope="session")
def export_calls(data: bytes, name: str, settings_json: str) -> tuple[Any, list]:
    s = Settings.from_dict(json.loads(settings_json))
    export = read_export(data, name, s)
    return export, call_export(export, s)


def current_cohort() -> tuple[Cohort, list]:
    """The cohort in use (demo or uploaded) and its ctDNA calls; raises InputError for a bad upload."""
    s = settings()
    src = source()
    if src["kind"] == "demo":
        return _demo_cohort(settings_key(s))
    return _uploaded_cohort(src["patients"], tuple(src["exports"]), settings_key(s))


# ------------------------------------------------------------------ rendering

def flag_card(status: str, headline: str, detail: str = "") -> None:
    icon, colour, background = FLAG_STYLE[status]
    st.markdown(
        f"""<div role="status" aria-label="{html.escape(headline)}" style="border:3px solid {colour};background:{background};
        border-radius:10px;padding:18px 22px;margin:6px 0 12px 0">
        <div style="font-size:1.9rem;font-weight:700;color:#1a1a1a">
        <span style="color:{colour};font-size:2.1rem">{icon}</span>&nbsp;{html.escape(headline)}</div>
        <div style="font-size:1.05rem;color:#1a1a1a;margin-top:4px">{html.escape(detail)}</div></div>""",
        unsafe_allow_html=True,
    )


def downloads(df: pd.DataFrame, name: str, key: str, s: Settings, note: str | None = None) -> None:
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("CSV", to_csv_bytes(df, s, note), f"{name}.csv", "text/csv", key=f"{key}_csv")
    c2.download_button("XLSX", to_xlsx_bytes({name: df}, s, note), f"{name}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx")


def limits() -> str:
    return LIMITS
