"""Who may do what: the two serving modes, users and their roles, what each role may do, and when a session ends.

**Single-user local mode** (the default): the app listens on loopback only and uses the embedded SQLite database;
there is no sign-in, the one local user may do everything, and the audit names ``TDM1_USER`` or the OS user.

**Signed-in mode** is switched on by an ``[auth]`` section in ``.streamlit/secrets.toml`` (Streamlit's ``st.login``
with OpenID Connect). It is *required* whenever the database is shared (``TDM1_DATABASE_URL`` names a server
database) or the server listens beyond loopback: without it the app serves no patient data (:func:`serving_mode`).

Roles come from an ID-token claim (its name is a setting, default ``roles``; a list or a space/comma-separated
string) or, when the token has no such claim, from the database's roles table (e-mail → roles), kept by an admin.
:data:`PERMISSIONS` says which role may do what; the use cases in :mod:`tdm1core.app.workflows` call :func:`authorize`
first, so the pages and the command line go through the same check. A refusal is an :class:`AccessDenied`.
"""
from __future__ import annotations

import enum
import getpass
import hashlib
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tdm1core.errors import InputError

__all__ = ["ROLES", "Action", "PERMISSIONS", "User", "AccessDenied", "local_user", "SYSTEM", "authorize", "can",
           "parse_roles", "roles_from_claims", "user_from_claims", "session_key", "SessionLimits", "AccessConfig",
           "access_config", "session_end_reason", "auth_config_problems", "EXAMPLE_COOKIE_SECRET", "ServingMode",
           "serving_mode", "is_loopback", "is_shared_database", "require_signed_in",
           "signed_in_required"]

ROLES = ("clinician", "researcher", "admin", "reviewer")


class Action(str, enum.Enum):
    """What a user asks to do (the value is the sentence used in messages and the audit log)."""

    PATIENT_RESULT = "see a patient result"
    SAVE_RESULT = "save a patient result"
    PATIENT_REPORT = "make a patient report"
    REVIEW_DROPLETS = "review droplets"
    REFERENCE_COHORT = "see the study cohort beside a patient"
    COHORT = "see cohort statistics"
    IMPORT = "import data"
    COHORT_REPORT = "make a cohort report or export"
    DEFAULT_SETTINGS = "change the default settings"
    REMOVE_DEMO = "remove the demo data"
    DELETE = "delete stored data"
    ROLES = "manage the roles table"
    AUDIT = "read the audit log and the stored files"
    RELEASE = "release a patient report"
    RELEASED = "see released reports"
    SETTINGS = "see the settings and cut-off profiles"
    MONITORING = "see a patient's serial ctDNA monitoring"
    BACKUP = "back up or restore the database"


PERMISSIONS: dict[Action, frozenset[str]] = {
    Action.PATIENT_RESULT: frozenset({"clinician", "reviewer"}),  # a reviewer sees what they release
    Action.SAVE_RESULT: frozenset({"clinician"}),
    Action.PATIENT_REPORT: frozenset({"clinician", "reviewer"}),
    Action.REVIEW_DROPLETS: frozenset({"clinician", "admin"}),  # the lab's classification defaults are the admin's
    Action.REFERENCE_COHORT: frozenset({"clinician", "researcher", "reviewer"}),
    Action.COHORT: frozenset({"researcher"}),
    Action.IMPORT: frozenset({"researcher"}),
    Action.COHORT_REPORT: frozenset({"researcher"}),
    Action.DEFAULT_SETTINGS: frozenset({"admin"}),
    Action.REMOVE_DEMO: frozenset({"admin"}),
    Action.DELETE: frozenset({"admin"}),
    Action.ROLES: frozenset({"admin"}),
    Action.AUDIT: frozenset({"admin"}),
    Action.RELEASE: frozenset({"reviewer"}),  # a clinical attestation: not IT's (admins manage, reviewers release)
    Action.RELEASED: frozenset({"clinician", "admin", "reviewer"}),
    Action.SETTINGS: frozenset({"clinician", "researcher", "admin", "reviewer"}),
    Action.MONITORING: frozenset({"clinician", "researcher", "reviewer"}),
    Action.BACKUP: frozenset({"admin"}),
}


class AccessDenied(InputError):
    """The user may not do this (or is not signed in)."""

    kind = "access"


@dataclass(frozen=True)
class User:
    """Who is acting: from the identity provider's token (signed-in mode) or the local operator (local mode)."""

    subject: str
    email: str | None = None
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    mode: str = "local"  # "local", "signed-in" or "system" (the core's own writes, e.g. seeding the demo)
    session: str | None = None  # signed-in: the key of the app session (see session_key)
    roles_source: str = "local"  # "claim", "table", "local"

    @property
    def audit_name(self) -> str:
        """The name written in the audit log's 'who' column."""
        return self.email or self.subject

    @property
    def label(self) -> str:
        if self.name and self.email and self.name != self.email:
            return f"{self.name} ({self.email})"
        return self.name or self.email or self.subject

    def may(self, action: Action) -> bool:
        return can(self, action)


def _os_user() -> str:
    try:
        return os.environ.get("TDM1_USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name on some containers
        return "unknown"


def local_user(name: str | None = None) -> User:
    """The single local user (local mode): every role; named ``name``, else TDM1_USER, else the OS user."""
    who = name or _os_user()
    return User(subject=who, name=who, roles=frozenset(ROLES), mode="local", roles_source="local")


SYSTEM = User(subject="tdm1core", name="tdm1core (system)", roles=frozenset(ROLES), mode="system", roles_source="local")

_SIGNED_IN_ONLY = {"on": False}


def require_signed_in(on: bool = True) -> None:
    """Refuse the local user from now on in this process (the app calls this when it serves in signed-in mode, so a
    page that forgot to pass the signed-in user is refused rather than served as the all-roles local user)."""
    _SIGNED_IN_ONLY["on"] = bool(on)


def signed_in_required() -> bool:
    return _SIGNED_IN_ONLY["on"]


def can(user: User | None, action: Action) -> bool:
    try:
        authorize(user, action)
    except AccessDenied:
        return False
    return True


def authorize(user: User | None, action: Action) -> User:
    """Return ``user`` when they may do ``action``; else raise :class:`AccessDenied` saying what role it needs."""
    if user is None:
        raise AccessDenied(f"nobody is signed in, so the app may not {action.value}.", source="sign-in",
                           hint="Sign in with your hospital account.")
    if user.mode == "local" and signed_in_required():
        raise AccessDenied(f"this server runs in signed-in mode, so a local user may not {action.value}.",
                           source="sign-in", hint="Sign in with your hospital account.")
    needed = PERMISSIONS[action]
    if user.roles & needed:
        return user
    have = ", ".join(sorted(user.roles)) or "none"
    raise AccessDenied(f"{user.label} may not {action.value}: it needs the role {' or '.join(sorted(needed))} "
                       f"(your roles: {have}).", source="roles",
                       hint="Ask your administrator to add the role (in the identity provider's roles claim, or in the "
                            "app's roles table on the Database & audit page).")


# ------------------------------------------------------------------ roles from the token or the roles table

def parse_roles(value: Any) -> frozenset[str]:
    """Roles from a claim or a table cell: a list, or a string separated by spaces or commas; unknown names are
    ignored, case is not significant."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        items: Iterable[Any] = value.replace(",", " ").split()
    elif isinstance(value, Iterable):
        items = value
    else:
        return frozenset()
    return frozenset(str(v).strip().lower() for v in items if str(v).strip().lower() in ROLES)


def roles_from_claims(claims: Mapping[str, Any], claim: str = "roles",
                      table: Callable[[str], frozenset[str] | None] | None = None) -> tuple[frozenset[str], str]:
    """The user's roles and where they came from ("claim" or "table"): the token's claim when present, else the
    roles table by e-mail (``table`` looks one up), else none."""
    if claim in claims:
        return parse_roles(claims.get(claim)), "claim"
    email = str(claims.get("email") or "").strip().lower()
    if table is not None and email:
        found = table(email)
        if found is not None:
            return frozenset(found), "table"
    return frozenset(), "table"


def session_key(claims: Mapping[str, Any]) -> str:
    """One app session per sign-in: the issuer, subject and the ID token's issue time (and nonce) hashed."""
    parts = [str(claims.get(k, "")) for k in ("iss", "sub", "iat", "nonce", "auth_time")]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def user_from_claims(claims: Mapping[str, Any], claim: str = "roles",
                     table: Callable[[str], frozenset[str] | None] | None = None) -> User:
    """The signed-in user from the identity token's claims (what ``st.user`` holds)."""
    roles, source = roles_from_claims(claims, claim, table)
    email = str(claims.get("email") or "").strip() or None
    name = str(claims.get("name") or claims.get("preferred_username") or "").strip() or None
    return User(subject=str(claims.get("sub") or email or "unknown"), email=email, name=name, roles=roles,
                mode="signed-in", session=session_key(claims), roles_source=source)


# ------------------------------------------------------------------ session limits

@dataclass(frozen=True)
class SessionLimits:
    """An app session ends after ``idle_seconds`` without activity or ``lifetime_seconds`` after sign-in."""

    idle_seconds: float = 30 * 60
    lifetime_seconds: float = 12 * 3600

    def describe(self) -> str:
        return f"idle timeout {self.idle_seconds / 60:g} min, session lifetime {self.lifetime_seconds / 3600:g} h"


@dataclass(frozen=True)
class AccessConfig:
    roles_claim: str = "roles"
    limits: SessionLimits = SessionLimits()


def _number(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}.", source="settings", column=name) from None
    if not x > 0:
        raise InputError(f"{name} must be more than 0, not {value!r}.", source="settings", column=name)
    return x


def access_config(section: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> AccessConfig:
    """The access settings: ``[access]`` of secrets.toml (``roles_claim``, ``idle_timeout_minutes``,
    ``session_lifetime_hours``), overridden by TDM1_ROLES_CLAIM, TDM1_IDLE_TIMEOUT_MINUTES, TDM1_SESSION_LIFETIME_HOURS."""
    section = dict(section or {})
    env = os.environ if environ is None else environ
    def pick(env_name: str, key: str, default: Any) -> Any:
        for value in (env.get(env_name), section.get(key)):
            if value is not None and value != "":
                return value
        return default

    claim = pick("TDM1_ROLES_CLAIM", "roles_claim", "roles")
    idle = pick("TDM1_IDLE_TIMEOUT_MINUTES", "idle_timeout_minutes", 30)
    life = pick("TDM1_SESSION_LIFETIME_HOURS", "session_lifetime_hours", 12)
    return AccessConfig(str(claim), SessionLimits(_number(idle, "idle_timeout_minutes") * 60,
                                                  _number(life, "session_lifetime_hours") * 3600))


def session_end_reason(signed_in_at: float, last_seen: float, now: float, limits: SessionLimits) -> str | None:
    """Why a session has ended at ``now`` (epoch seconds), or None while it may go on."""
    if now - signed_in_at > limits.lifetime_seconds:
        return f"the session lifetime ({limits.lifetime_seconds / 3600:g} h) was reached"
    if now - last_seen > limits.idle_seconds:
        return f"no activity for more than {limits.idle_seconds / 60:g} min"
    return None


# ------------------------------------------------------------------ the sign-in configuration and the serving mode

EXAMPLE_COOKIE_SECRET = "replace-me-with-the-output-of-python-secrets-token-hex-32"
_AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


def auth_config_problems(auth: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with the ``[auth]`` section (empty when it can be used)."""
    if not auth:
        return ["there is no [auth] section in .streamlit/secrets.toml."]
    problems = [f"[auth] has no {key}." for key in _AUTH_KEYS if not str(auth.get(key) or "").strip()]
    secret = str(auth.get("cookie_secret") or "")
    if secret == EXAMPLE_COOKIE_SECRET or "replace-me" in secret.lower():
        problems.append("[auth] cookie_secret is the example's value; anyone who read the example could forge a "
                        "sign-in. Generate one: python -c \"import secrets; print(secrets.token_hex(32))\".")
    elif secret and len(secret) < 32:
        problems.append("[auth] cookie_secret is shorter than 32 characters; generate one: "
                        "python -c \"import secrets; print(secrets.token_hex(32))\".")
    redirect = str(auth.get("redirect_uri") or "")
    if redirect and not redirect.rstrip("/").endswith("/oauth2callback"):
        problems.append("[auth] redirect_uri must end with /oauth2callback (e.g. https://tdm1.hospital.example/oauth2callback).")
    return problems


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for '' (every interface) and any other address."""
    text = (address or "").strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def is_shared_database(url: str) -> bool:
    """A server database (PostgreSQL and the like) is shared; the embedded SQLite file is this machine's."""
    return not url.strip().lower().startswith("sqlite")


@dataclass(frozen=True)
class ServingMode:
    """How the app serves: "local" (single-user), "signed-in", or "refused" (with the message shown instead)."""

    mode: str
    refusal: str | None = None
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        return {"local": "single-user local mode (no sign-in; this machine only)",
                "signed-in": "signed-in mode (hospital sign-in)", "refused": "not serving"}[self.mode]


_HOW = ("Configure sign-in: copy .streamlit/secrets.example.toml to .streamlit/secrets.toml, fill in the [auth] "
        "section from your identity provider (OpenID Connect) and a fresh cookie_secret, and restart "
        "(docs/it-admin.md, 'Optional: sign-in').")


def serving_mode(address: str | None, database_url: str, auth: Mapping[str, Any] | None) -> ServingMode:
    """Local mode on loopback with the embedded database; signed-in mode when [auth] is configured; otherwise, when
    the database is shared or the server listens beyond loopback, a refusal that says how to configure sign-in."""
    why = []
    if not is_loopback(address):
        why.append(f"the server listens on {repr(address) if address else 'every network interface'}")
    if is_shared_database(database_url):
        why.append("the database is shared (TDM1_DATABASE_URL names a database server)")
    if auth:
        problems = auth_config_problems(auth)
        if problems:
            return ServingMode("refused", "Sign-in is configured but cannot be used, so no patient data is served: "
                               + " ".join(problems), tuple(why))
        return ServingMode("signed-in", None, tuple(why))
    if why:
        return ServingMode("refused", "Signed-in mode is required because " + " and ".join(why)
                           + ", so no patient data is served. " + _HOW, tuple(why))
    return ServingMode("local")
