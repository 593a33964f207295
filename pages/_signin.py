"""Who is using the app: the serving mode, Streamlit's sign-in (st.login / st.user / st.logout), the app's own
session limits, and the sidebar line that says who is signed in. The rules are in tdm1core.storage.access."""
from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from tdm1core.storage.access import (Action, AccessConfig, ServingMode, User, access_config, local_user, require_signed_in,
                             serving_mode, user_from_claims)
from tdm1core.storage.store import database_url

USER_KEY = "_tdm1_user"


def _share_tls() -> None:
    from pages._tls_shared import share_default_tls_context

    share_default_tls_context()  # the sign-in's calls to the provider reuse one trust store (see the module)


_share_tls()


def _secrets_section(name: str) -> dict[str, Any] | None:
    try:
        section = st.secrets.get(name)
    except Exception:  # no secrets.toml at all: the default single-user local mode
        return None
    if section is None:
        return None
    return {k: (dict(v) if hasattr(v, "items") else v) for k, v in section.items()}


def serving() -> ServingMode:
    return serving_mode(st.get_option("server.address"), database_url(), _secrets_section("auth"))


def config() -> AccessConfig:
    return access_config(_secrets_section("access"))


def current_user() -> User | None:
    """The user the gate let in on this run (None before the gate or when nobody may be served)."""
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, User) else None


def _signed_in_at(claims: dict[str, Any]) -> dt.datetime:
    for key in ("auth_time", "iat"):
        try:
            return dt.datetime.fromtimestamp(float(claims[key]), dt.timezone.utc)
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
    return dt.datetime.now(dt.timezone.utc)


def _store() -> Any:
    from pages._base import store

    return store()


# The app's pages, in menu order: the action each needs (None: everyone), the script, its title, icon and URL.
PAGES: tuple[tuple[Any, str, str, str, str | None], ...] = (
    (None, "pages/home.py", "Home", ":material/home:", None),
    (Action.PATIENT_RESULT, "pages/patient.py", "Patient result", ":material/person:", "patient-result"),
    (Action.REVIEW_DROPLETS, "pages/droplets.py", "Droplets", ":material/scatter_plot:", "droplet-review"),
    (Action.COHORT, "pages/cohort.py", "Cohort", ":material/table_chart:", "cohort-statistics"),
    (Action.COHORT, "pages/survival.py", "Survival", ":material/monitoring:", "survival-analysis"),
    (Action.MONITORING, "pages/monitoring.py", "Monitoring", ":material/timeline:", "serial-monitoring"),
    (Action.AUDIT, "pages/audit.py", "Database & audit", ":material/history:", "database-audit"),
    (None, "pages/settings.py", "Settings & help", ":material/settings:", "settings-and-help"),
)


def app_pages() -> list[tuple[Any, Any]]:
    """(action, st.Page) for every page of the app (the home page is the default)."""
    return [(action, st.Page(script, title=title, icon=icon, url_path=url, default=url is None))
            for action, script, title, icon, url in PAGES]


def not_available_page(page: Any, action: Any, user: User) -> Any:
    """The page a role may not use, at its own URL and hidden from the menu: it says so and why."""
    from tdm1core.storage.access import PERMISSIONS

    def render() -> None:
        st.title(page.title)
        st.error(f"Not available for your role: {page.title} needs the role {' or '.join(sorted(PERMISSIONS[action]))} "
                 f"to {action.value} (your roles: {', '.join(sorted(user.roles)) or 'none'}). Ask your administrator "
                 "if you need it.", icon=":material/block:")
        st.page_link(app_pages()[0][1], label="Go to the home page", icon=":material/home:")

    return st.Page(render, title=page.title, icon=":material/block:", url_path=page.url_path, visibility="hidden")


def _only_page(render: Any, title: str) -> None:
    """Every URL shows this one page (nothing else is routed) and the run ends here. The app's page URLs are routed
    to it too (hidden), so Back or a reload after signing out shows this page, not "Page not found"."""
    st.session_state.pop(USER_KEY, None)
    others = [st.Page(render, title=title, url_path=url, visibility="hidden", icon=":material/lock:")
              for *_, url in PAGES if url]
    st.navigation([st.Page(render, title=title, icon=":material/lock:", url_path="sign-in", default=True), *others],
                  position="hidden").run()
    st.stop()


def _sign_in_page() -> None:
    st.title("T-DM1 ctDNA dashboard")
    st.write("Sign in with your hospital account to continue.")
    if st.button("Sign in", type="primary", key="sign_in"):
        st.login()
        st.stop()  # as after st.logout(): nothing may start a run that drops the redirect
    st.caption("Research use only; not a diagnostic device.")


def gate() -> User:
    """Let the session in, or show the one page it may see (refusal, sign-in, session ended, no role) and stop."""
    mode = serving()
    if mode.mode == "refused":
        def refused() -> None:
            st.title("T-DM1 ctDNA dashboard")
            st.error(mode.refusal, icon=":material/lock:")
        _only_page(refused, "Not serving")
    if mode.mode == "local":
        require_signed_in(False)
        user = local_user()
        st.session_state[USER_KEY] = user
        return user
    require_signed_in(True)
    if not st.user.is_logged_in:
        _only_page(_sign_in_page, "Sign in")
    cfg = config()
    claims = dict(st.user.to_dict())
    store = _store()
    user = user_from_claims(claims, cfg.roles_claim, store.roles_for)
    signed_in_at = _signed_in_at(claims)
    ended = store.touch_session(user, dt.datetime.now(dt.timezone.utc), signed_in_at, cfg.limits)
    if ended:
        def session_ended() -> None:
            st.title("T-DM1 ctDNA dashboard")
            st.warning(f"Your session has ended: {ended}. Sign in again to continue.", icon=":material/timer_off:")
            with st.container(horizontal=True):
                if st.button("Sign in", type="primary", key="sign_in_again"):
                    st.login()
                    st.stop()
                if st.button("Sign out", key="sign_out_ended"):
                    _sign_out(None)
        _only_page(session_ended, "Session ended")
    if not user.roles:
        def no_role() -> None:
            st.title("T-DM1 ctDNA dashboard")
            st.warning(f"You are signed in as {user.label}, but you have no role in this app yet. Ask your "
                       "administrator to give you one (clinician, researcher or admin).", icon=":material/badge:")
            if st.button("Sign out", key="sign_out_no_role"):
                _sign_out(user)
        _only_page(no_role, "No role")
    st.session_state[USER_KEY] = user
    st.session_state["_tdm1_signed_in_at"] = signed_in_at
    return user


def sidebar(user: User, mode: ServingMode) -> None:
    """The mode, who is signed in with which roles, the sign-out, and the timer that ends an idle session."""
    if user.mode == "local":
        st.caption(f"**Mode:** {mode.describe()} · user {user.label}")
        return
    st.caption(f"**Mode:** {mode.describe()}")
    st.markdown(f"**Signed in:** {_md(user.label)}  \n**Role:** {', '.join(sorted(user.roles))}")
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        _sign_out(user)
    _watch(user)


def _sign_out(user: User | None) -> None:
    """End the app's session, then Streamlit's (cookie and provider), and end this run at once: anything run after
    st.logout() could start a new run (the idle timer sees the session just ended and reruns the app), and a new
    run drops the logout redirect if it has not reached the browser yet (seen under load: no redirect, the identity
    cookie left in place)."""
    if user is not None:
        _store().end_session(user)
    st.logout()
    st.stop()


def _md(text: str) -> str:
    from pages._base import md

    return md(text)


def _watch(user: User) -> None:
    limits = config().limits
    every = max(2.0, min(60.0, limits.idle_seconds / 3))

    @st.fragment(run_every=every)
    def session_timer() -> None:
        # checks the limits without counting as activity; when they are reached the whole page is run again, and the
        # gate then shows only "your session has ended"
        signed_in_at = st.session_state.get("_tdm1_signed_in_at") or dt.datetime.now(dt.timezone.utc)
        if _store().touch_session(user, dt.datetime.now(dt.timezone.utc), signed_in_at, limits, active=False):
            st.rerun(scope="app")

    session_timer()
