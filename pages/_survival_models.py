"""The Survival page's model sections: the group's hazard ratio, the adjusted Cox model (forest plot, PH check),
a landmark analysis and the restricted mean survival time."""
from __future__ import annotations

from typing import Any

import streamlit as st

from pages._common import downloads, md, reading_table, settings, show_error, store, who
from tdm1core import InputError
from tdm1core.app.cohort_service import survival, survival_models, survival_report_pdf
from tdm1core.plotting.figures import forest_figure, km_figure, zph_figure
from tdm1core.stats.cohort import column_label
from tdm1core.stats.cox import COX_METHOD, ZPH_METHOD
from tdm1core.stats.rmst import RMST_METHOD
from tdm1core.stats.survival import LANDMARK_RULE

EXPLORATORY = ("Exploratory: a small cohort gives wide intervals, and a hazard ratio from few events may be far from "
               "the truth.")


def _p(p: float | None) -> str:
    return "NA" if p is None or p != p else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _hr(term: Any, level: float) -> str:
    if not term.estimable:
        return f"{md(term.term)}: **hazard ratio not estimable** ({md(term.reason)})"
    return (f"{md(term.term)}: HR **{term.hr:.2f}** ({level:.0%} CI {term.hr_low:.2f}–{term.hr_high:.2f}), "
            f"p = {_p(term.p)}")


def hazard_ratio_line(group: str) -> None:
    """The group's hazard ratio (the group alone in a Cox model), under the log-rank test."""
    models = survival_models(store(), settings(), group, actor=who())
    cox = models.unadjusted
    if cox is None:
        st.caption("Hazard ratio: " + md("; ".join(models.problems) or "not available"))
        return
    ref = dict(cox.references).get(group)
    st.markdown(f"**Hazard ratio** (Cox, {cox.ties} ties; against {md(ref or 'the reference')}): "
                + "; ".join(_hr(t, cox.level) for t in cox.coefficients))


def _model_results(cox: Any, s: Any) -> None:
    for w in cox.warnings:
        st.warning(md(w), icon=":material/warning:")
    table = cox.table()
    st.dataframe(table, hide_index=True, key="survival_model_table")
    st.caption(f"{md(COX_METHOD)}. n {cox.n}, events {cox.events}. Likelihood ratio {cox.likelihood_ratio.statistic:.2f} "
               f"on {cox.likelihood_ratio.df} df (p {_p(cox.likelihood_ratio.p)}); score (log-rank) "
               f"{cox.score.statistic:.2f} (p {_p(cox.score.p)}); concordance "
               f"{'NA' if cox.concordance is None else f'{cox.concordance:.3f}'}.")
    downloads(table, "cox_model", "survival_model_dl", s, note=COX_METHOD)
    st.plotly_chart(forest_figure(cox, "Adjusted hazard ratios"), key="survival_forest", width="stretch")
    if cox.ph_test:
        st.markdown("**Proportional-hazards check**")
        ph = cox.ph_table()
        st.dataframe(ph, hide_index=True, key="survival_ph_table")
        st.caption(md(ZPH_METHOD) + ". A small p says the hazard ratio changes over time.")
        downloads(ph, "ph_check", "survival_ph_dl", s, note=ZPH_METHOD)
        estimable = [c.term for c in cox.coefficients if c.estimable]
        term = st.selectbox("Residuals of", estimable, key="survival_zph_term")
        st.plotly_chart(zph_figure(cox, term), key="survival_zph_fig", width="stretch")


def model_section(group: str, choices: list[str]) -> None:
    """The model builder: covariates and ties chosen, then the adjusted model with its forest plot and PH check."""
    st.subheader("Adjusted Cox model", anchor=False)
    c1, c2, c3 = st.columns([3, 2, 1])
    covariates = c1.multiselect(f"Adjust the {column_label(group)} for", [c for c in choices if c != group],
                                key="survival_covariates", format_func=column_label)
    strata = c2.selectbox("Strata (own baseline hazard each)", [None] + [c for c in choices if c != group and c not in covariates],
                          key="survival_strata", format_func=lambda c: "none" if c is None else column_label(c))
    ties = c3.radio("Ties", ["efron", "breslow"], horizontal=True, key="survival_ties",
                    help="Efron is R's default; Breslow as older software.")
    if not covariates:
        st.caption("Choose covariates to see the adjusted hazard ratios, the forest plot and the proportional-hazards "
                   "check. " + EXPLORATORY)
        return
    models = survival_models(store(), settings(), group, tuple(covariates), ties, actor=who(), strata=strata)
    for problem in models.problems:
        st.error(md(problem), icon=":material/error:")
    if models.adjusted is not None:
        _model_results(models.adjusted, settings())
    st.caption(EXPLORATORY)


def landmark_section(group: str) -> None:
    """Kaplan-Meier from a landmark day: only patients progression-free and followed beyond it."""
    st.subheader("Landmark analysis", anchor=False)
    day = st.number_input("Landmark (days after the start of T-DM1)", value=None, min_value=0.0, step=30.0,
                          key="survival_landmark")
    if day is None:
        st.caption(md(LANDMARK_RULE) + ".")
        return
    try:
        km = survival(store(), settings(), group, (), who(), landmark=day)
    except InputError as exc:
        show_error(exc)
        return
    st.markdown(f"{km.landmark_excluded} patient(s) with progression or censored by day {day:g} left out; "
                f"{sum(g.n for g in km.groups)} enter, time counted from day {day:g}.")
    if km.logrank is not None:
        st.markdown(f"{md(km.logrank.test_name)}: χ² = {km.logrank.chi2:.3f}, p = {_p(km.logrank.p)}")
    if km.groups:
        reading_table(km.medians_for_reading())
        downloads(km.median_table(), f"landmark_{day:g}_medians", "survival_landmark_dl", settings(),
                  note=f"{LANDMARK_RULE}; landmark day {day:g}; {km.landmark_excluded} left out")
        st.plotly_chart(km_figure(km, title=f"From day {day:g}, by {column_label(group)}", time_unit="days from the landmark"),
                        key="survival_landmark_fig", width="stretch")


def rmst_section(group: str) -> None:
    """RMST up to a horizon, per group, with the difference and ratio of two groups."""
    st.subheader("Restricted mean survival time", anchor=False)
    tau = st.number_input("Horizon tau (days)", value=None, min_value=1.0, step=30.0, key="survival_tau")
    if tau is None:
        st.caption(md(RMST_METHOD) + ". Useful when the curves cross or hazards are not proportional.")
        return
    models = survival_models(store(), settings(), group, tau=tau, actor=who())
    for problem in models.problems:
        if problem.startswith("rmst"):
            st.error(md(problem), icon=":material/error:")
    res = models.rmst
    if res is None:
        return
    table = res.table()
    st.dataframe(table, hide_index=True, key="survival_rmst_table")
    if res.difference is not None:
        d, r = res.difference, res.ratio
        st.markdown(f"Difference {md(d.groups[0])} − {md(d.groups[1])}: **{d.estimate:.1f} days** "
                    f"({res.level:.0%} CI {d.low:.1f} to {d.high:.1f}), p = {_p(d.p)}; ratio {r.estimate:.2f} "
                    f"({r.low:.2f}–{r.high:.2f}).")
    st.caption(md(RMST_METHOD) + f"; tau = {tau:g} days.")
    downloads(table, "rmst", "survival_rmst_dl", settings(), note=f"{RMST_METHOD}; tau = {tau:g} days")


def report_button(group: str) -> None:
    """The cohort PDF with this page's models (the covariates, ties and horizon chosen above), built when clicked."""
    state = st.session_state
    chosen = (group, tuple(state.get("survival_covariates") or ()), state.get("survival_ties") or "efron",
              state.get("survival_tau"))
    strata = state.get("survival_strata")
    st.download_button("PDF: cohort report with these models",
                       lambda db=store(), s=settings(), user=who(), c=chosen: survival_report_pdf(db, s, *c, actor=user,
                                                                                                    strata=strata),
                       "tdm1_survival_report.pdf", "application/pdf", key="survival_pdf", type="primary")
