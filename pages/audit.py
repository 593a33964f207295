"""Database & audit (admins): what is stored, every import, deletion, settings change, sign-in and view, the roles
table, and exports."""
import streamlit as st

from pages._common import audit_view, md, downloads, page_header, settings, show_error, store, who
from tdm1core import InputError
from tdm1core.storage.access import ROLES
from tdm1core.storage.audit import readable_audit, readable_files
from tdm1core.app.workflows import delete_file, read_audit_log, set_user_roles, stored_files

page_header("Database & audit")
db = store()
s = settings()
user = who()
files = stored_files(db, user)  # refused unless the user may read the audit log and the stored files (admins)
status = db.status()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Files", status.files)
c2.metric("Wells", status.wells)
c3.metric("Patients", status.patients)
c4.metric("Audit entries", status.audit_entries)
st.caption(f"Database: {md(status.url)} · schema revision {md(status.revision)}")

st.subheader("Stored files")
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
                delete_file(db, int(pending), user)
                st.session_state.pop("audit_confirm_delete", None)
                st.rerun()
            except InputError as exc:
                show_error(exc)
        if n.button("Cancel", key="audit_delete_no"):
            st.session_state.pop("audit_confirm_delete", None)
            st.rerun()

st.subheader("Roles")
st.caption("Roles for users whose identity token has no roles claim, by the e-mail address in their token. "
           "Clinician: patient results, saving them, patient PDFs. Researcher: cohort, survival, imports, cohort PDFs "
           "and exports. Admin: default settings, demo removal, deletions, this table and the audit log. Reviewer: "
           "releasing patient reports.")
table = db.roles_table()
if table:
    st.dataframe([{"e-mail": r["email"], "roles": r["roles"], "set by": r["updated_by"]} for r in table], hide_index=True,
                 key="audit_roles")
with st.form("roles_form", clear_on_submit=True):
    r1, r2 = st.columns([2, 2])
    email = r1.text_input("E-mail address", key="roles_email")
    chosen = r2.multiselect("Roles (none: remove the user's roles)", list(ROLES), key="roles_chosen")
    if st.form_submit_button("Set roles"):
        try:
            previous, new = set_user_roles(db, email, chosen, user)
            if previous == new:
                st.info(f"{md(email.strip().lower())}: {md(new or 'no roles')}, unchanged.")
            else:
                st.success(f"{md(email.strip().lower())}: {md(previous or 'no roles')} → {md(new or 'no roles')} "
                           "(recorded in the audit log).")
        except InputError as exc:
            show_error(exc)

st.subheader("Audit log")
log = read_audit_log(db, user)
audit_view("audit log", {"entries": len(log)})
st.caption("Times are ISO 8601 in UTC. The log is append-only: the database refuses to change or delete an entry. "
           "Access entries (sign-ins, sign-outs, views of patient-level data, downloads, reports) are recorded in "
           "signed-in mode.")
st.dataframe(readable_audit(log), hide_index=True, key="audit_log")
downloads(log, "audit_log", "audit_log_dl", s)
