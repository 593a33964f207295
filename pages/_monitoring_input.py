"""The Monitoring page's data: uploaded tables and exports, the database (with its imports), or the SYNTHETIC demo."""
import streamlit as st

from pages._common import may, md, show_error, store, who
from tdm1core import InputError
from tdm1core.app.monitoring import import_demo_series, import_serial_tables
from tdm1core.demo import demo_series_paths
from tdm1core.reporting.export import to_csv_bytes
from tdm1core.settings import Settings
from tdm1core.stats.serial_tables import events_template, samples_template, serial_dictionary
from tdm1core.storage.access import Action


def _database_imports(s: Settings) -> None:
    with st.expander("Import a sample table or an events table into the database (all or nothing; audited)"):
        up = st.file_uploader("Sample or events table", type=["csv", "xlsx"], key="monitor_import")
        kind = st.radio("It is", ["a sample table", "an events table"], horizontal=True, key="monitor_import_kind")
        if up is not None and st.button("Import", key="monitor_import_go"):
            try:
                item = (up.getvalue(), up.name)
                n = import_serial_tables(store(), item if kind == "a sample table" else None,
                                         item if kind == "an events table" else None, s, who())
                st.success(f"Stored {n[0]} sample(s) and {n[1]} event(s) from {md(up.name)}.")
            except InputError as exc:
                show_error(exc)
    with st.expander("Import the SYNTHETIC demo series into the database"):
        st.caption("Four made-up courses on T-DM1 (patients M01-M04): their ddPCR export, samples and events, marked "
                   "as demo data, so that removing the demo (Settings) removes them. Samples with these IDs are replaced.")
        sure = st.checkbox("Add the SYNTHETIC demo series to this database", key="monitor_demo_sure")
        if st.button("Import the demo series", key="monitor_demo_go", disabled=not sure):
            try:
                n = import_demo_series(store(), s, who())
                st.success(f"Stored the SYNTHETIC demo series: {n[0]} sample(s) and {n[1]} event(s).")
            except InputError as exc:
                show_error(exc)


def _demo() -> tuple:
    samples_path, export_path, events_path = demo_series_paths()
    st.warning("**SYNTHETIC demo series, not patient data.** Four made-up courses on T-DM1.", icon=":material/science:")
    return ((samples_path.read_bytes(), samples_path.name), (events_path.read_bytes(), events_path.name),
            [(export_path.read_bytes(), export_path.name)])


def _uploads() -> tuple:
    c1, c2 = st.columns(2)
    table = c1.file_uploader("Sample table (CSV or XLSX)", type=["csv", "xlsx"], key="monitor_samples")
    ev = c2.file_uploader("Events table (optional)", type=["csv", "xlsx"], key="monitor_events")
    files = st.file_uploader("ddPCR exports with these samples", type=["csv", "txt", "xlsx"], accept_multiple_files=True,
                             key="monitor_exports")
    samples = (table.getvalue(), table.name) if table is not None else None
    events = (ev.getvalue(), ev.name) if ev is not None else None
    exports = [(f.getvalue(), f.name) for f in files or []]
    with st.expander("Templates and data dictionary"):
        st.dataframe(serial_dictionary(), hide_index=True, key="monitor_dictionary")
        t1, t2, _ = st.columns([1, 1, 3])
        t1.download_button("Sample table template", to_csv_bytes(samples_template()), "samples_template.csv", "text/csv",
                           key="monitor_tpl_samples")
        t2.download_button("Events table template", to_csv_bytes(events_template()), "events_template.csv", "text/csv",
                           key="monitor_tpl_events")
    if samples is None or not exports:
        st.info("Upload the sample table and the exports (and the events table for the baseline and imaging), or use "
                "the demo series.", icon=":material/upload_file:")
        st.stop()
    return samples, events, exports


def monitoring_input(s: Settings) -> tuple:
    """(source, samples, events, exports) as the user chose them; stops the page until there is something to show."""
    source = st.radio("Data", ["Upload the tables and exports", "The database", "Use the SYNTHETIC demo series"],
                      horizontal=True, key="monitor_source")
    if source == "The database":
        if may(Action.IMPORT):
            _database_imports(s)
        return source, None, None, []
    samples, events, exports = _demo() if source.startswith("Use") else _uploads()
    return source, samples, events, exports
