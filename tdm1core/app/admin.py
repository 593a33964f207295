"""The administrator's use cases: the database's default settings, deletions (confirmed on the page, audited), the
roles table, the audit log, the database's status and export, and the record of what each user saw."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tdm1core.storage.access import SYSTEM, Action, User, local_user
from tdm1core.settings import Settings

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither
    import pandas as pd

    from tdm1core.reading.thresholds import DropletThresholds

    from tdm1core.storage.store import Store

from tdm1core.app.cohort import _ensure_calls
from tdm1core.app.context import acting_user

__all__ = ['apply_settings', 'record_view', 'delete_patient', 'delete_file', 'remove_demo', 'save_default_thresholds', 'set_user_roles', 'read_audit_log', 'stored_files', 'database_status', 'export_database', 'roles_table', 'set_roles_from_command_line', 'demo_removal_plan', 'write_demo_files', 'backup_database', 'restore_database']


def apply_settings(store: "Store", settings: Settings, who: "User | str | None" = None) -> int:
    """Save the settings for everyone (audited) and call every stored file with them now, once, so no page view
    has to. Returns the number of files called."""
    who = acting_user(who, Action.DEFAULT_SETTINGS)
    store.save_settings(settings, who)
    return _ensure_calls(store, settings)


def record_view(store: "Store", user: "User | str | None", what: str, detail: "dict | None" = None,
                action: str = "view") -> None:
    """Audit a view of patient-level data (``what``: which patient or which cohort filter) or a download."""
    store.record_access(user if isinstance(user, User) else local_user(user), action, what, detail)


def delete_patient(store: "Store", patient_id: str, who: "User | str | None" = None) -> bool:
    """Delete a stored patient (admins; audited with the deleted values)."""
    return store.delete_patient(patient_id, acting_user(who, Action.DELETE))


def delete_file(store: "Store", file_id: int, who: "User | str | None" = None) -> bool:
    """Delete a stored file with its wells and calls (admins; audited)."""
    return store.delete_file(file_id, acting_user(who, Action.DELETE))


def remove_demo(store: "Store", who: "User | str | None" = None) -> Any:
    """Remove the synthetic demo data that is still demo-only (admins; audited with the counts)."""
    return store.remove_demo(acting_user(who, Action.REMOVE_DEMO))


def save_default_thresholds(store: "Store", thresholds: "DropletThresholds", who: "User | str | None" = None) -> dict:
    """Save the droplet classification as the lab's default (admins; audited with the previous value)."""
    return store.save_droplet_thresholds(thresholds, acting_user(who, Action.DEFAULT_SETTINGS))


def set_user_roles(store: "Store", email: str, roles: "list[str]", who: "User | str | None" = None) -> tuple[str, str]:
    """Give a user (by e-mail) exactly these roles in the roles table (admins; audited)."""
    return store.set_roles(email, roles, acting_user(who, Action.ROLES))


def read_audit_log(store: "Store", who: "User | str | None" = None, limit: int | None = None) -> "pd.DataFrame":
    """The audit log, newest first (admins)."""
    acting_user(who, Action.AUDIT)
    return store.audit(limit)


def stored_files(store: "Store", who: "User | str | None" = None) -> "pd.DataFrame":
    """The stored files (names, SHA-256, who uploaded them; admins)."""
    acting_user(who, Action.AUDIT)
    return store.files_table()


# ------------------------------------------------------------------ the lab's own cut-offs (tdm1core.calling.profiles)

def database_status(store: "Store", who: "User | str | None" = None) -> Any:
    """Counts of what the database holds and its schema revision (admins)."""
    acting_user(who, Action.AUDIT)
    return store.status()


def export_database(store: "Store", directory: str, who: "User | str | None" = None) -> list:
    """Every stored file as received and every table as CSV, into a new private folder (admins; audited)."""
    acting_user(who, Action.AUDIT)
    return store.export_all(directory)


def backup_database(store: "Store", path: str, who: "User | str | None" = None) -> Any:
    """A backup of the whole database into the new private file ``path`` (admins; audited;
    :mod:`tdm1core.storage.backup`): SQLite's online backup API, or pg_dump's custom format."""
    from tdm1core.storage.backup import backup

    return backup(store, path, acting_user(who, Action.BACKUP))


def restore_database(store: "Store", path: str, force: bool = False, who: "User | str | None" = None) -> Any:
    """Replace the database's content with a backup (admins; refused over data unless ``force``; audited)."""
    from tdm1core.storage.backup import restore

    return restore(store, path, force, acting_user(who, Action.BACKUP))


def roles_table(store: "Store", who: "User | str | None" = None) -> list[dict]:
    """The roles table (admins)."""
    acting_user(who, Action.ROLES)
    return store.roles_table()


def set_roles_from_command_line(store: "Store", email: str, roles: "list[str]", who: User) -> tuple[str, str]:
    """:func:`set_user_roles`, except that the first admin of a new shared database (while none exists) is set by
    its operator, audited as that bootstrap."""
    from dataclasses import replace

    bootstrap = not any("admin" in str(r["roles"]).split() for r in store.roles_table()) and "admin" not in who.roles
    if not bootstrap:
        return set_user_roles(store, email, roles, who)
    operator = replace(SYSTEM, subject=who.audit_name, name=f"{who.audit_name} (first admin, command line)",
                       email=who.email, session=who.session)
    done = set_user_roles(store, email, roles, operator)
    store.record("bootstrap first admin", f"user {email.strip().lower()}",
                 {"by": who.audit_name, "subject": who.subject, "roles": done[1],
                  "note": "allowed once, while the database had no admin"}, operator)
    return done


def demo_removal_plan(store: "Store", who: "User | str | None" = None) -> Any:
    """What removing the synthetic demo would delete and keep (admins; nothing is changed)."""
    acting_user(who, Action.REMOVE_DEMO)
    return store.demo_removal_plan()


def write_demo_files(directory: str) -> list:
    """Write the built-in synthetic demo files (an export and a patient table) into ``directory``."""
    from tdm1core.demo import write_demo

    return write_demo(directory)


