"""The Cohort page's data section: patient tables and exports imported (all or nothing), the demo removed (confirmed)."""
from __future__ import annotations

import streamlit as st

from pages._common import may, md, settings, store, who
from tdm1core import InputError
from tdm1core.app.admin import demo_removal_plan, remove_demo
from tdm1core.app.cohort import import_exports, import_patients, preview_patients
from tdm1core.storage.access import Action

MESSAGES = "cohort_messages"


def import_section() -> None:
    """The import expander; its outcome is shown (after the rerun that applies it) by :func:`import_messages`."""
    s, db = settings(), store()
    with st.expander("Data: import into the database", expanded=False):
        status = db.status()
        st.caption(f"{status.patients} patients, {status.files} files, {status.wells} wells in the database. "
                   "An import is all or nothing: a file with any error stores nothing and changes nothing.")
        table = st.file_uploader("Patient table (CSV or XLSX; template on Settings & help)", type=["csv", "xlsx"], key="cohort_table")
        if table is not None:
            try:
                preview, _ = preview_patients(db, table.getvalue(), table.name, s, who())
                st.write(f"**{md(table.name)}**: {preview.summary()}.")
                if preview.changed:
                    st.dataframe(preview.changes_table(), hide_index=True, key="cohort_changes")
                if st.button("Apply to the database", key="cohort_apply", type="primary"):
                    st.session_state[MESSAGES] = [("success", import_patients(db, table.getvalue(), table.name, s, who()).message)]
                    st.rerun()
            except InputError as exc:
                st.session_state.pop(MESSAGES, None)  # an earlier "stored" notice must not stand under this rejection
                st.error("The patient table was rejected; nothing was stored.\n\n" + md(str(exc)), icon=":material/error:")
        _fhir_import(db, s)
        exports = st.file_uploader("ddPCR exports (CSV, TXT or XLSX)", type=["csv", "txt", "xlsx"], accept_multiple_files=True, key="cohort_exports")
        if exports and st.button("Import the exports", key="cohort_import"):
            messages = []
            for f in exports:
                try:
                    r = import_exports(db, [(f.getvalue(), f.name)], s, who())[0]
                    messages.append(("info" if r.duplicate else "success", r.message))
                except InputError as exc:
                    messages.append(("error", "Rejected; nothing was stored.\n\n" + str(exc)))
            st.session_state[MESSAGES] = messages
            st.rerun()
        if db.has_demo() and may(Action.REMOVE_DEMO):  # admins
            if st.button("Remove the synthetic demo data…", key="cohort_remove_demo"):
                st.session_state["cohort_confirm_demo"] = True
            if st.session_state.get("cohort_confirm_demo"):
                plan = demo_removal_plan(db, who())
                st.warning(f"This deletes {plan.summary()}. It is recorded in the audit log and cannot be undone.",
                           icon=":material/warning:")
                y, n, _ = st.columns([1, 1, 3])
                if y.button("Yes, delete the demo data", key="cohort_remove_demo_yes", type="primary"):
                    done = remove_demo(db, who())
                    st.session_state.pop("cohort_confirm_demo", None)
                    st.session_state[MESSAGES] = [("success", f"Removed {done.summary()}.")]
                    st.rerun()
                if n.button("Cancel", key="cohort_remove_demo_no"):
                    st.session_state.pop("cohort_confirm_demo", None)
                    st.rerun()


def _fhir_import(db, s) -> None:
    """Patient data from the hospital's record: a FHIR Bundle or a Bulk Data export, previewed, then applied."""
    from tdm1core.app.fhir import FhirOptions, import_fhir, preview_fhir

    files = st.file_uploader("Patient data from FHIR (a Bundle .json, or a Bulk Data export's .ndjson files)",
                             type=["json", "ndjson"], accept_multiple_files=True, key="cohort_fhir")
    system = st.text_input("FHIR: the identifier system of the pseudonymous patient ID (blank: Patient.id)",
                           key="cohort_fhir_system", help="e.g. your research-pseudonym system; never a hospital number")
    if not files:
        return
    given = [(f.getvalue(), f.name) for f in files]
    try:
        options = FhirOptions(patient_id_system=system.strip() or None)
        preview = preview_fhir(db, given, s, options, who())
        st.write(f"**{md(preview.name)}**: {preview.summary()}.")
        st.caption(md(" ".join(options.lines())))
        if preview.patients.changed:
            st.dataframe(preview.patients.changes_table(), hide_index=True, key="cohort_fhir_changes")
        if preview.mapping.unmapped:
            st.write("Not mapped (by resource and path; nothing is guessed):")
            st.dataframe(preview.mapping.unmapped_table(), hide_index=True, key="cohort_fhir_unmapped")
        if st.button("Apply the FHIR import to the database", key="cohort_fhir_apply", type="primary"):
            st.session_state[MESSAGES] = [("success", import_fhir(db, given, s, options, who()).message)]
            st.rerun()
    except InputError as exc:
        st.session_state.pop(MESSAGES, None)
        st.error("The FHIR import was rejected; nothing was stored.\n\n" + md(str(exc)), icon=":material/error:")


def import_messages() -> None:
    for kind, text in st.session_state.get(MESSAGES, []):
        getattr(st, kind)(md(text))
