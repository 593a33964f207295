"""Database & audit: what is stored, every import, deletion and settings change, and exports."""
import streamlit as st

from pages._common import downloads, page_header, settings, show_error, store, who
from tdm1core import InputError

page_header("Database & audit")
db = store()
s = settings()
status = db.status()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Files", status.files)
c2.metric("Wells", status.wells)
c3.metric("Patients", status.patients)
c4.metric("Audit entries", status.audit_entries)
st.caption(f"Database: {status.url} · schema revision {status.revision}")

st.subheader("Stored files")
files = db.files_table()
st.dataframe(files, hide_index=True, key="audit_files")
downloads(files, "stored_files", "audit_files_dl", s)
if len(files):
    choice = st.selectbox("Delete a stored file (its wells and calls go with it)", [None] + list(files["id"]),
                          format_func=lambda i: "choose…" if i is None else f"{i}: {files.set_index('id').loc[i, 'name']}",
                          key="audit_delete_choice")
    if choice is not None and st.button("Delete", key="audit_delete"):
        try:
            db.delete_file(int(choice), who())
            st.rerun()
        except InputError as exc:
            show_error(exc)

st.subheader("Audit log")
log = db.audit()
st.dataframe(log, hide_index=True, key="audit_log")
downloads(log, "audit_log", "audit_log_dl", s)
