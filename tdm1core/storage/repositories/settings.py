"""The saved settings and droplet thresholds (the database's defaults for every user)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.storage.engine import Engine, utc_now
from tdm1core.storage.schema import app_settings

if TYPE_CHECKING:
    pass

__all__ = ["SettingsRepository"]


class SettingsRepository(Engine):
    """The saved settings and droplet thresholds (the database's defaults for every user)."""

    # ------------------------------------------------------------------ settings
    def saved_settings(self) -> Settings:
        """The settings saved for everyone (a new session starts from them); the defaults until any are saved."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "current")).scalar()
        return Settings.from_dict(json.loads(value)) if value else DEFAULT_SETTINGS

    def save_settings(self, settings: Settings, who: Any = None) -> dict[str, tuple[Any, Any]]:
        """Save the settings and record what changed (old → new) in the audit log. Returns the changes."""
        def run() -> dict[str, tuple[Any, Any]]:
            with self.engine.begin() as conn:
                value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "current")).scalar()
                old = (Settings.from_dict(json.loads(value)) if value else DEFAULT_SETTINGS).to_dict()
                new = settings.to_dict()
                text = json.dumps(new, sort_keys=True)
                if value is None:
                    conn.execute(app_settings.insert().values(key="current", value=text, updated_at=utc_now()))
                else:
                    conn.execute(app_settings.update().where(app_settings.c.key == "current").values(value=text, updated_at=utc_now()))
                changed = {k: (v, new[k]) for k, v in old.items() if new[k] != v}
                self._audit(conn, who, "settings change", "settings",
                            {"changed": changed, "settings_hash": settings.fingerprint()})
                return changed

        return self._retry(run)

    def saved_droplet_thresholds(self) -> Any:
        """The lab's saved droplet classification (the instrument's classes until one is saved)."""
        from tdm1core.reading.thresholds import INSTRUMENT_THRESHOLDS, DropletThresholds

        with self.engine.connect() as conn:
            value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "droplet_thresholds")).scalar()
        return DropletThresholds.from_dict(json.loads(value)) if value else INSTRUMENT_THRESHOLDS

    def save_droplet_thresholds(self, thresholds: Any, who: Any = None) -> dict[str, Any]:
        """Save the droplet classification as the lab's default, audited with the previous and the new values."""
        from tdm1core.reading.thresholds import INSTRUMENT_THRESHOLDS

        def run() -> dict[str, Any]:
            with self.engine.begin() as conn:
                value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "droplet_thresholds")).scalar()
                old = json.loads(value) if value else INSTRUMENT_THRESHOLDS.to_dict()
                new = thresholds.to_dict()
                text = json.dumps(new, sort_keys=True)
                if value is None:
                    conn.execute(app_settings.insert().values(key="droplet_thresholds", value=text, updated_at=utc_now()))
                else:
                    conn.execute(app_settings.update().where(app_settings.c.key == "droplet_thresholds")
                                 .values(value=text, updated_at=utc_now()))
                detail = {"previous": old, "new": new, "description": thresholds.describe()}
                self._audit(conn, who, "settings change", "droplet thresholds", detail)
                return detail

        return self._retry(run)
