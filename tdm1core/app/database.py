"""The database opened for the use cases: migrated, and seeded with the synthetic demo when it is empty."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tdm1core.storage.access import SYSTEM, User

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither


    from tdm1core.storage.store import Store


from tdm1core.app.cohort import import_exports, import_patients

__all__ = ['seed_demo', 'open_store']


def seed_demo(store: "Store", who: "User | str" = "demo seed") -> bool:
    """Seed the synthetic demo into an empty database (once: never again after it was removed). True when it seeded.
    The core's own write (the system user), whoever opened the database first."""
    from dataclasses import replace

    who = who if isinstance(who, User) else replace(SYSTEM, subject=who, name=who)
    from tdm1core.demo import DEMO_DIR, demo_export_path

    if store.demo_seeded() or not store.is_empty():
        return False
    settings = store.saved_settings()
    import_exports(store, [(demo_export_path().read_bytes(), demo_export_path().name)], settings, who, demo=True)
    import_patients(store, (DEMO_DIR / "demo_patients.csv").read_bytes(), "demo_patients.csv", settings, who, demo=True)
    store.record("demo seeded", "demo", {"note": "synthetic demo data, not patient data"}, who)
    return True


def open_store(url: str | None = None, seed: bool = True) -> "Store":
    """Open (create and migrate) the store; seed the synthetic demo into a fresh database."""
    from tdm1core.storage.store import Store

    store = Store(url)
    if seed:
        seed_demo(store)
    return store



# ------------------------------------------------------------------ reports, deletions, defaults, roles, the audit log

