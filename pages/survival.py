"""Survival: Kaplan-Meier time to progression by any categorical column, the log-rank test and the hazard ratio;
an adjusted Cox model with its forest plot and PH check, a landmark analysis and the RMST."""
import streamlit as st

from pages._survival_models import hazard_ratio_line, landmark_section, model_section, report_button, rmst_section
from pages._common import (audit_view, no_patients_yet, page_header, current_cohort, downloads, reading_table, settings,
                           show_error, stamp, survival_by)
from tdm1core import InputError
from tdm1core.stats.cohort import column_label
from tdm1core.plotting.figures import km_figure, km_plot_data
from tdm1core.stats.models import model_columns
from tdm1core.stats.survival import CI_METHOD_LABELS, parse_times

page_header("Survival: time to progression")
s = settings()
try:
    cohort, _ = current_cohort()
except InputError as exc:
    show_error(exc)
    st.stop()
if cohort is None:
    no_patients_yet()
    st.stop()

columns = cohort.categorical_columns()
c1, c2, c3 = st.columns([2, 1, 2])
group = c1.selectbox("Group by", columns, index=columns.index("flag"), key="survival_group",
                     format_func=column_label)
show_ci = c2.toggle("CI bands", value=True, key="survival_ci")
times_text = c3.text_input("Numbers at risk at (days, comma-separated; blank = automatic)", key="survival_times")
try:
    risk_times = parse_times(times_text) or None
except InputError as exc:
    show_error(exc)
    risk_times = None

km = survival_by(group, tuple(risk_times or ()))
audit_view("survival analysis", {"grouped by": group, "patients": cohort.n})
if not km.groups:
    st.warning("No patient has both a time to progression and a value in this column.")
    st.stop()
# key numbers first (on a phone they are read before the figure)
if km.logrank is not None:
    lr = km.logrank
    st.markdown(f"**{lr.test_name}**: χ² = {lr.chi2:.3f}, df = {lr.df}, p = "
                f"{'NA (no variance to test)' if lr.p != lr.p else f'{lr.p:.4f}'}")
    hazard_ratio_line(group)
reading_table(km.medians_for_reading())  # four columns that wrap on a phone, drawn with the page's text
st.caption(f"Median time to progression with its CI: {CI_METHOD_LABELS[km.ci_method]}; NA = not reached. Change the "
           "method on Settings & help.")
st.plotly_chart(km_figure(km, show_ci=show_ci, risk_times=risk_times,
                          title=f"Time to progression by {column_label(group)}"), key="survival_fig", width="stretch")
if km.excluded:
    st.caption(f"{km.excluded} patient(s) without a time, event or group value were left out.")
downloads(km_plot_data(km), "km_plotted_data", "survival_dl", s)
model_section(group, model_columns(cohort))
landmark_section(group)
rmst_section(group)
report_button(group)
stamp(s)
