"""Database & audit: what is stored, every import, deletion and settings change, and exports."""
import streamlit as st

from pages._common import md, downloads, page_header, settings, show_error, store, who
from tdm1core import InputError
from tdm1core.audit import readable_audit, readable_files

page_header("Database & audit")
db = store()
s = settings()
status = db.status()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Files", status.files)
c2.metric("Wells", status.wells)
c3.metric("Patients", status.patients)
c4.metric("Audit entries", status.audit_entries)
st.caption(f"Database: {md(status.url)} · schema revision {md(status.revision)}")

st.subheader("Stored files")
files = db.files_table()
st.dataframe(readable_files(files), hide_index=True, key="audit_files")
downloads(files, "stored_files", "audit_files_dl", s)
if len(files):
    choice = st.selectbox("Delete a stored file (its wells and calls go with it)", [None] + list(files["id"]),
                          format_func=lambda i: "choose…" if i is None else f"{i}: {files.set_index('id').loc[i, 'name']}",
                          key="audit_delete_choice")
    if choice is not None and st.button("Delete…", key="audit_delete"):
        st.session_state["audit_confirm_delete"] = int(choice)
    pending = st.session_state.get("audit_confirm_delete")
    if pending is not None and pending in set(files["id"]):
        row = files.set_index("id").loc[pending]
        st.warning(f"Delete stored file {pending} ({row['kind']}, {md(row['name'])}) with its wells and calls? "
                   "It is recorded in the audit log and cannot be undone.", icon=":material/warning:")
        y, n, _ = st.columns([1, 1, 3])
        if y.button("Yes, delete it", key="audit_delete_yes", type="primary"):
            try:
                db.delete_file(int(pending), who())
                st.session_state.pop("audit_confirm_delete", None)
                st.rerun()
            except InputError as exc:
                show_error(exc)
        if n.button("Cancel", key="audit_delete_no"):
            st.session_state.pop("audit_confirm_delete", None)
            st.rerun()

st.subheader("Audit log")
log = db.audit()
st.caption("Times are ISO 8601 in UTC.")
st.dataframe(readable_audit(log), hide_index=True, key="audit_log")
downloads(log, "audit_log", "audit_log_dl", s)
