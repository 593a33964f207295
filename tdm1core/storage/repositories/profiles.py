"""The lab's cut-off profiles: a name saved again is the next version."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.errors import InputError
from tdm1core.storage.engine import Engine, utc_now, who_name
from tdm1core.storage.schema import cutoff_profiles

if TYPE_CHECKING:
    pass

__all__ = ["ProfilesRepository"]


class ProfilesRepository(Engine):
    """The lab's cut-off profiles: a name saved again is the next version."""

    # ------------------------------------------------------------------ cut-off profiles
    def save_profile(self, profile: Any, who: Any = None) -> Any:
        """Store ``profile`` as the next version of its name (1 for a new name; earlier versions stay as they are),
        audited. Returns the profile as stored (with its version, time and author)."""
        from dataclasses import replace as _replace

        from tdm1core.calling.profiles import STUDY, CutoffProfile

        name = profile.name.strip()
        if not name or len(name) > 150:
            raise InputError("a profile needs a name of 1-150 characters.", source="cut-off profile", column="name")
        if name == STUDY.name:
            raise InputError(f"'{name}' is the built-in profile's name.", source="cut-off profile", column="name",
                             hint="Give the lab's profile its own name, e.g. 'Lab X PIK3CA'.")

        def run() -> Any:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(451978)"))
                last = conn.execute(sa.select(sa.func.max(cutoff_profiles.c.version))
                                    .where(cutoff_profiles.c.name == name)).scalar() or 0
                stored: CutoffProfile = _replace(profile, name=name, version=int(last) + 1, created_by=who_name(who),
                                                 created_at=profile.created_at or utc_now().isoformat(timespec="seconds"))
                conn.execute(cutoff_profiles.insert().values(name=name, version=stored.version, created_at=utc_now(),
                                                             created_by=who_name(who),
                                                             data=json.dumps(stored.to_dict(), default=str)))
                self._audit(conn, who, "cut-off profile", f"profile {stored.label}",
                            {"her2_ratio_cutoff": stored.her2_ratio_cutoff,
                             "pik3ca_mutant_cutoff_copies": stored.pik3ca_mutant_cutoff_copies,
                             "reference_min_copies": stored.reference_min_copies,
                             "evidence": [f"{n} (SHA-256 {h})" for n, h in stored.evidence]})
                return stored

        return self._retry(run)

    def profiles(self) -> list[Any]:
        """Every stored profile, newest version of each name first within the name; the built-in one first."""
        from tdm1core.calling.profiles import STUDY, CutoffProfile

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cutoff_profiles.c.data).order_by(cutoff_profiles.c.name,
                                                                           cutoff_profiles.c.version.desc())).scalars().all()
        return [STUDY] + [CutoffProfile.from_dict(json.loads(r)) for r in rows]
