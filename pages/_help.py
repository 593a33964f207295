"""The Settings & help page's help: the patient table's dictionary and template, demo files, how to export, about."""
from __future__ import annotations

import streamlit as st

from tdm1core import __version__
from tdm1core.demo import demo_files
from tdm1core.reporting.export import to_csv_bytes, to_xlsx_bytes
from tdm1core.stats.cohort import data_dictionary, template_frame


def help_section() -> None:
    st.subheader("Patient table: data dictionary and template")
    st.dataframe(data_dictionary(), hide_index=True, key="help_dictionary")
    t = template_frame()
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("Template (CSV)", to_csv_bytes(t), "patient_table_template.csv", "text/csv", key="help_tpl_csv")
    c2.download_button("Template (XLSX)", to_xlsx_bytes({"patients": t, "dictionary": data_dictionary()}), "patient_table_template.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="help_tpl_xlsx")
    st.markdown("**Demo files** (synthetic, to try every upload):")
    for i, path in enumerate(demo_files()):
        st.download_button(path.name, path.read_bytes(), path.name, "text/csv", key=f"help_demo_{i}")

    st.subheader("How to export from the ddPCR software")
    st.markdown(
        "- **QuantaSoft (1.7.x)**: open the plate, *Analyze* tab, select the wells, *Options* → *Export CSV*. "
        "Keep the default comma delimiter and a dot as the decimal sign.\n"
        "- **QX Manager**: open the data file, *Well data* view, select the wells, *Export* → *CSV* (the well-level results table, "
        "not the droplet amplitude files).\n"
        "- Name the targets HER2 and EFTUD2 (duplex, FAM/HEX), and for PIK3CA e.g. `PIK3CA E545K MUT` (FAM) and "
        "`PIK3CA E545K WT` (HEX); other names can be mapped above.\n"
        "- Samples are matched to the patient table by the `Sample` (QuantaSoft) or `Sample description 1` (QX Manager) name."
    )
    st.subheader("About")
    st.markdown(
        f"tdm1core {__version__}. Implements: *Prediction of primary resistance to trastuzumab emtansine (T-DM1) using "
        "genomic analysis of ctDNA and clinicopathological features in HER2-positive advanced breast cancer* "
        "(Kindai University; 34 patients, 16 with ctDNA). Exploratory, research use only; not a diagnostic device."
    )
