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
from tdm1core.storage.access import Action
from tdm1core.stats.cohort import Cohort
from tdm1core.reporting.export import to_csv_bytes, to_xlsx_bytes
from tdm1core.plotting.palette import FLAG_STYLE  # icon, colour (Okabe-Ito), background: the card reads without colour
from pages._base import md, store  # noqa: F401  (re-exported: the pages import them from here)
from tdm1core.app.context import acting_user
from tdm1core.app.patient import UploadAssessment, assess_droplets, assess_upload

SETTINGS_KEY = "settings"
EVIDENCE_LINE = ("Exploratory evidence: in the study, all 4 primary-resistant patients of the 16 with ctDNA had HER2 not "
                 "amplified in ctDNA and an ER- and/or PR-positive tumour. Research use only; not a diagnostic device.")


def who() -> Any:
    """Who is acting (a tdm1core.storage.access.User): the signed-in user, or the local user in single-user local mode.
    Every use case checks this user's roles; the audit log records their subject, e-mail and session."""
    from pages._signin import current_user

    user = current_user()
    if user is None:  # the gate has not let this session in (a page file run without app.py)
        st.switch_page("app.py")
    return user


def may(action: Any) -> bool:
    from pages._signin import current_user

    user = current_user()
    return user is not None and user.may(action)


def audit_view(what: str, detail: dict | None = None, action: str = "view") -> None:
    """Audit that this session was shown patient-level data (``what``: which patient, plate or cohort filter), once
    per session for each distinct view; in signed-in mode (one local user needs no access log)."""
    user = who()
    if user.mode != "signed-in":
        return
    key = json.dumps([action, what, detail], sort_keys=True, default=str)
    seen = st.session_state.setdefault("_audited_views", set())
    if key in seen:
        return
    from tdm1core.app.workflows import record_view

    record_view(store(), user, what, detail, action)
    seen.add(key)


def audited(build: Any, what: str, detail: dict | None = None) -> Any:
    """A download's bytes built by ``build`` when clicked, audited as a download (signed-in mode)."""
    user = who()
    db = store()

    def run() -> bytes:
        data = build() if callable(build) else build
        if user.mode == "signed-in":
            from tdm1core.app.workflows import record_view

            record_view(db, user, what, {**(detail or {}), "bytes": len(data)}, "download")
        return data

    return run


def settings() -> Settings:
    """This session's settings; they start from the database's saved settings."""
    if SETTINGS_KEY not in st.session_state:
        st.session_state[SETTINGS_KEY] = store().saved_settings()
    return st.session_state[SETTINGS_KEY]


DATA_STATE_KEY = "_tdm1_data_state_this_run"


def demo_state(fresh: bool = False) -> str:
    """'demo', 'mixed', 'real' or 'empty'. app.py asks the database once per run (``fresh``) for its sidebar, before
    the page runs; the page's banner then reads that answer instead of asking again (a page run on its own asks)."""
    if fresh or DATA_STATE_KEY not in st.session_state:
        st.session_state[DATA_STATE_KEY] = store().demo_state()
    return st.session_state[DATA_STATE_KEY]


VIA_APP_KEY = "_run_via_app"


def page_header(title: str) -> None:
    """Every page starts here: the title, the synthetic-data notice on demo data, and the evidence line.

    A page reached by an old URL on a fresh server can be run by Streamlit's ``pages/`` discovery without
    app.py (so without the navigation and settings sidebar); it is sent to app.py instead.
    """
    from pages._signin import current_user

    if not st.session_state.get(VIA_APP_KEY) or current_user() is None:
        st.switch_page("app.py")
    st.title(title)
    banner()


def banner() -> None:
    """The evidence line and, on demo data, the synthetic-data notice."""
    state = demo_state()
    if state == "demo":
        st.info("**Synthetic demo data** (not patient data), reconstructed to match the study's published values.", icon=":material/science:")
    elif state == "mixed":
        st.info("The database holds your data **and the synthetic demo data** (not patient data); remove the demo on the "
                "Cohort page.", icon=":material/science:")
    st.caption(EVIDENCE_LINE)




def reading_table(df: pd.DataFrame) -> None:
    """A table for reading that fits a phone (Table 1, Table 4): a Markdown table, which wraps, and draws with the
    page's text (no table widget to load first, so it is on screen as soon as the page is). Every cell is literal
    text (``md``); a level (indented with an em space by the core) is indented, a row whose second column is empty
    is a characteristic's heading, in bold; values never break across lines (no-break spaces, word joiners around
    the dash)."""
    from tdm1core.stats import INDENT

    def first(text: str, heading: bool) -> str:
        if text.startswith(INDENT):
            return "&emsp;&emsp;" + md(text.lstrip(INDENT))  # an entity: a cell's own leading spaces are trimmed
        return f"**{md(text)}**" if heading and text else md(text)

    def value(text: str) -> str:
        return md(text).replace(" ", "\u00a0").replace("–", "\u2060–\u2060")

    lines = ["| " + " | ".join(md(c) for c in df.columns) + " |", "|" + "|".join(["---"] * len(df.columns)) + "|"]
    for row in df.astype(str).itertuples(index=False):
        heading = len(row) > 1 and row[1] == ""
        lines.append("| " + " | ".join([first(row[0], heading), *(value(v) for v in row[1:])]) + " |")
    st.markdown("\n".join(lines))


def show_error(exc: Exception) -> None:
    st.error(md(str(exc)), icon=":material/error:")


def stamp(s: Settings) -> None:
    st.caption(f"Settings used: {md(s.describe())}. Software tdm1core {__version__}.")


# ------------------------------------------------------------------ cached core calls

def _memo(name: str, key: tuple, compute: Any, keep: int) -> Any:
    """This session's last ``keep`` results of ``compute`` by ``key``, kept in session state (private to the session,
    like ``cache_data(scope="session")``, but without pickling: a registry cohort is not copied on every rerun)."""
    box = st.session_state.setdefault(f"_memo_{name}", {})
    if key in box:
        box[key] = box.pop(key)  # most recently used last
        return box[key]
    value = compute()
    box[key] = value
    while len(box) > keep:
        box.pop(next(iter(box)))
    return value


def _stored_cohort(purpose: Any) -> tuple[Cohort | None, pd.DataFrame]:
    from tdm1core.app.cohort_service import stored_cohort

    return stored_cohort(store(), settings(), who(), purpose)


def assessed_upload(data: bytes, name: str, settings: Settings) -> UploadAssessment:
    """The upload read and called with this session's settings (one computation for screen, downloads and save); the
    user's role is checked on every call, before the session's cache is read."""
    import hashlib

    user = acting_user(who(), Action.PATIENT_RESULT)
    key = (hashlib.sha256(data).hexdigest(), name, settings.fingerprint())
    return _memo("upload", key, lambda: assess_upload(data, name, settings, user), keep=16)


DROPLET_THRESHOLDS_KEY = "droplet_thresholds"


def droplet_thresholds() -> Any:
    """This session's droplet classification: as set on the Droplets page, else the lab's saved default."""
    if DROPLET_THRESHOLDS_KEY not in st.session_state:
        st.session_state[DROPLET_THRESHOLDS_KEY] = store().saved_droplet_thresholds()
    return st.session_state[DROPLET_THRESHOLDS_KEY]


def _files_key(files: list[tuple[bytes, str]]) -> tuple:
    import hashlib

    return tuple((n, hashlib.sha256(d).hexdigest()) for d, n in files)


def assessed_droplets(files: list[tuple[bytes, str]], settings: Settings, thresholds: Any) -> Any:
    """A plate of droplet files read, classified with ``thresholds`` and called (app.patient.assess_droplets), kept
    for this session by the files' SHA-256, the settings and the thresholds (session state: no pickling of droplets)."""
    user = acting_user(who(), Action.REVIEW_DROPLETS)
    key = (_files_key(files), settings.fingerprint(), thresholds)
    return _memo("droplets", key, lambda: assess_droplets(files, settings, thresholds, actor=user), keep=3)


def reviewed_plate(files: list[tuple[bytes, str]], settings: Settings, thresholds: Any) -> Any:
    """The Droplets page's plate (app.lab), kept for this session: read once per upload, classified once per
    classification (a new method or threshold re-classifies the plate already read, not the files)."""
    from tdm1core.app.lab import read_droplet_plate, review_read_plate

    user = acting_user(who(), Action.REVIEW_DROPLETS)
    files_key = _files_key(files)
    plate = _memo("plate_read", (files_key, settings.fingerprint()), lambda: read_droplet_plate(files, settings, user), keep=1)
    key = (files_key, settings.fingerprint(), thresholds)
    return _memo("plate", key, lambda: review_read_plate(plate, settings, thresholds, actor=user), keep=3)


NO_PATIENTS = ("No patients in the database yet. Import a patient table on the **Cohort** page (Data: import into the "
               "database), or put the synthetic demo back with `python -m tdm1core db seed-demo`.")


def no_patients_yet() -> None:
    st.info(NO_PATIENTS, icon=":material/inbox:")


def cohort_statistics(filters: dict[str, list], extra: list[str]) -> Any:
    """The filtered cohort and its statistics (tdm1core.app.cohort_service: once per state of the data)."""
    from tdm1core.app.cohort_service import cohort_statistics_view

    return cohort_statistics_view(store(), settings(), filters, tuple(extra), who())


def survival_by(group: str, at: tuple[float, ...]) -> Any:
    """Kaplan-Meier time to progression of the stored cohort by ``group`` (tdm1core.app.cohort_service)."""
    from tdm1core.app.cohort_service import survival

    return survival(store(), settings(), group, at, who())


def _warm_up() -> None:
    """Import the statistics, figure and report libraries in the background when the server first loads the pages, so
    a person's first Cohort, Survival or PDF does not wait for them; then freeze what is loaded out of the garbage
    collector's reach.

    With pandas, plotly, matplotlib, reportlab and the statistics loaded, a full collection takes ~0.1-0.2 s with the
    interpreter lock held. Streamlit's own after every script run is off (``runner.postScriptGC`` in config.toml: it
    delayed every run of every session under load, py-spy); ``gc.freeze()`` moves the objects that exist now (the
    libraries, loaded once per process) to a permanent generation, so the interpreter's own occasional full
    collections stay short; later objects (each session's data) are collected as before."""
    def run() -> None:
        try:
            import plotly.subplots  # noqa: F401
            import reportlab.pdfbase.ttfonts  # noqa: F401
            import reportlab.platypus  # noqa: F401

            import tdm1core.plotting.figures  # noqa: F401
            import tdm1core.plotting.pdf_figures  # noqa: F401
            import tdm1core.reporting.report  # noqa: F401
            import tdm1core.stats.contingency  # noqa: F401
            import tdm1core.stats.descriptive  # noqa: F401
        except Exception:  # a warm-up never breaks the app
            pass
        import gc

        gc.collect()
        gc.freeze()

    import threading

    threading.Thread(target=run, name="tdm1-warm-up", daemon=True).start()


_warm_up()


def _keep_downloads() -> None:
    from pages._downloads_kept import keep_generated_downloads

    keep_generated_downloads()  # a PDF built on click is not deleted before the browser fetches it (see the module)


_keep_downloads()


def current_cohort(purpose: Any = None) -> tuple[Cohort | None, pd.DataFrame]:
    """The stored cohort and its ctDNA calls (cached per database version and settings); None when no patient is
    stored. ``purpose``: Action.COHORT (statistics, the default) or Action.REFERENCE_COHORT (beside a patient)."""
    return _stored_cohort(purpose or Action.COHORT)


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
    # built when clicked (the table and settings are fixed here, so the file is exactly what the page shows);
    # building six workbooks on every render would slow every page view
    c1.download_button("CSV", audited(lambda: to_csv_bytes(df, s, note), f"{name}.csv", {"rows": len(df)}), f"{name}.csv",
                       "text/csv", key=f"{key}_csv")
    c2.download_button("XLSX", audited(lambda: to_xlsx_bytes({name: df}, s, note), f"{name}.xlsx", {"rows": len(df)}),
                       f"{name}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx")



# ------------------------------------------------------------------ reports built at the moment of the click

class LiveDownload:
    """A download whose bytes are built when the button is clicked, from what the page shows *then*.

    A person who types a patient ID and clicks the download at once commits the text box (a rerun) in the
    same gesture as the click. Streamlit runs the deferred download in another thread, possibly before that
    rerun has finished; this callable therefore waits until the session's script is idle, and then builds
    the file from the inputs the latest complete run displayed (``update`` is called by the page on each run).
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._build: Any = None
        self._session_id: str | None = None
        self.last_error: str | None = None

    def update(self, build: Any) -> None:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        with self._lock:
            self._build = build
            self._session_id = ctx.session_id if ctx is not None else None

    def _wait_until_idle(self, timeout: float = 20.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        idle_since = None
        # the session must stay idle for a moment: a widget may commit its value (and request a rerun) a little after
        # the click that started this download
        while time.monotonic() < deadline:
            if _session_busy(self._session_id):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= 0.35:
                return
            time.sleep(0.03)

    def __call__(self) -> bytes:
        self._wait_until_idle()
        with self._lock:
            build = self._build
        try:
            return build()
        except Exception as exc:  # shown on the page on the next run; Streamlit reports the failed download
            self.last_error = f"The report could not be built ({type(exc).__name__}); nothing was downloaded. Try again."
            raise


def _session_busy(session_id: str | None) -> bool:
    """True while the session's script is running or a rerun is queued; False if unknown.

    Streamlit's private API, because no public one says whether a session's script is running: a deferred download
    runs in another thread and must wait for the rerun that commits a just-typed input (LiveDownload). It reads
    ``Runtime._session_mgr``, ``SessionManager.get_session_info`` and ``AppSession._scriptrunner``;
    tests/pages/test_streamlit_internals.py fails if Streamlit renames any of them, and a failure here only makes the
    download build at once (the pre-existing behaviour), never a wrong file."""
    if not session_id:
        return False
    try:
        from streamlit import runtime

        info = runtime.get_instance()._session_mgr.get_session_info(session_id)
        if info is None:
            return False
        return info.session._scriptrunner is not None
    except Exception:
        return False


def live_download(key: str) -> LiveDownload:
    """This session's live download for ``key`` (one object per session, kept in session state)."""
    holder = st.session_state.get(f"_live_{key}")
    if not isinstance(holder, LiveDownload):
        holder = LiveDownload()
        st.session_state[f"_live_{key}"] = holder
    if holder.last_error:
        st.error(md(holder.last_error), icon=":material/error:")
        holder.last_error = None
    return holder
