"""T-DM1 ctDNA dashboard (minimal first page: calls on the built-in synthetic demo export)."""
import streamlit as st

from tdm1core import DEFAULT_SETTINGS, PatientResult, call_export, read_export
from tdm1core.demo import demo_export_path

st.set_page_config(page_title="T-DM1 ctDNA", layout="wide")
st.title("T-DM1 primary-resistance flag from ctDNA")
st.warning("Synthetic demo data, not patient data. Exploratory evidence (16 patients). Research use only.")
export = read_export(demo_export_path())
rows = []
for c in call_export(export, DEFAULT_SETTINGS):
    r = PatientResult.from_calls(c, "positive", "unknown")
    rows.append({"sample": c.sample, "HER2 ratio": round(c.her2.ratio, 2), "HER2": c.her2.call, "flag if ER+": r.flag.headline})
st.dataframe(rows)
