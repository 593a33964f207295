"""Who acts and with what settings: the acting user checked for an action, the settings in force and their origin,
the store opened (and the synthetic demo seeded). Every use case starts with :func:`acting_user`."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core.errors import InputError
from tdm1core.storage.access import Action, User, authorize, local_user
from tdm1core.settings import Settings

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither


    from tdm1core.storage.store import Store


__all__ = ['acting_user', 'SettingsInForce', 'settings_in_force', 'is_demo_export', 'command_line_user', 'settings_with_profile', 'limits_text']


def acting_user(who: "User | str | None", action: Action) -> User:
    """The user acting, checked for ``action`` (:func:`tdm1core.storage.access.authorize`): a signed-in or local
    :class:`User`, or a name (the local user in single-user mode). Every use case below starts here."""
    user = who if isinstance(who, User) else local_user(who)
    return authorize(user, action)


@dataclass(frozen=True)
class SettingsInForce:
    """The settings a result is made with, and where they came from (printed with every result)."""

    settings: Settings
    origin: str


def settings_in_force(db: str | None = None, changes: "dict[str, Any] | None" = None,
                      base: Settings | None = None, base_origin: str = "") -> SettingsInForce:
    """The one rule, for the page and the command line alike: the database's saved settings where there is a
    database (``db``, TDM1_DATABASE_URL, or the embedded SQLite file when it exists), else the study's defaults;
    then ``changes`` (options, or a profile given as ``base``) override. A missing database is never created here."""
    import os
    from dataclasses import replace

    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.storage.store import default_sqlite_path

    if base is not None:
        settings, origin = base, base_origin or "given"
    elif db or os.environ.get("TDM1_DATABASE_URL") or default_sqlite_path().is_file():
        from tdm1core.storage.store import Store

        settings = Store(db).saved_settings()
        origin = ("the database's saved settings" if settings != DEFAULT_SETTINGS
                  else "the study's defaults (the database has no saved settings)")
    else:
        settings, origin = DEFAULT_SETTINGS, "the study's defaults (no database)"
    if changes:
        settings = replace(settings, **changes)
        origin += "; changed here: " + ", ".join(f"{k}={v!r}" if not isinstance(v, tuple) else f"{k}" for k, v in changes.items())
    return SettingsInForce(settings, origin)


def is_demo_export(sha256: str) -> bool:
    """True when the bytes are the built-in synthetic demo export."""
    return sha256 == _demo_sha256()


@functools.lru_cache(maxsize=1)
def _demo_sha256() -> str:
    from tdm1core.demo import demo_export_path

    return hashlib.sha256(demo_export_path().read_bytes()).hexdigest()


def command_line_user(store: "Store | None", who: str | None = None) -> User:
    """Who runs a command, for the same role checks as the app.

    On the embedded SQLite database (this machine's, single-user local mode) or with no database, the operator is the
    local user with every role, named ``--who`` or TDM1_USER. On a shared database the operator is the user signed in
    with ``python -m tdm1core login`` (:mod:`tdm1core.app.signin`: the token verified now), with the roles of the
    token's claim or else of the roles table, and the OS user and host as the audit's session; ``--who`` and
    TDM1_USER are refused there (anyone with the database's credentials could name anyone)."""
    import os
    from dataclasses import replace

    from tdm1core.app.signin import client_config, command_line_host, signed_in_claims
    from tdm1core.storage.access import is_shared_database, user_from_claims

    if store is None or not is_shared_database(store.url):
        return local_user(who)
    if who or os.environ.get("TDM1_USER"):
        raise InputError("--who and TDM1_USER name the user only on this machine's embedded database; on a shared "
                         "database the command line acts as the user who signed in.", column="--who",
                         hint="Run python -m tdm1core login, then the command without --who (and unset TDM1_USER).")
    client = client_config()
    user = user_from_claims(signed_in_claims(client), client.roles_claim, store.roles_for)
    return replace(user, session=f"command line {command_line_host()}")


def settings_with_profile(db: str | None, label: str, profile_db: str | None = None,
                          changes: "dict[str, Any] | None" = None) -> SettingsInForce:
    """The settings in force with a stored cut-off profile's cut-offs and limits of blank, then ``changes`` (a cut-off
    changed here makes the profile ``custom (edited from ...)``)."""
    from tdm1core.calling.profiles import apply_profile
    from tdm1core.storage.store import Store

    found = {p.label: p for p in Store(profile_db or db).profiles()}
    if label not in found:
        raise InputError(f"no cut-off profile {label!r} in the database; it holds {', '.join(found)}.",
                         column="--profile", hint="Give a profile's name and version as listed, e.g. 'Lab X PIK3CA v2'.")
    start = settings_in_force(db).settings
    return settings_in_force(db, changes, base=apply_profile(start, found[label]),
                             base_origin=f"cut-off profile {label!r}")


def limits_text() -> str:
    """The sentence every result carries: research use only, exploratory evidence (n=16)."""
    from tdm1core.clinical.risk import LIMITS

    return LIMITS


