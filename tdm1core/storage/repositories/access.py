"""The roles table and the app's sign-in sessions."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Iterable

import sqlalchemy as sa

from tdm1core.errors import InputError
from tdm1core.storage.engine import Engine, utc_now, who_name
from tdm1core.storage.schema import user_roles, user_sessions

if TYPE_CHECKING:
    pass

__all__ = ["AccessRepository"]


class AccessRepository(Engine):
    """The roles table and the app's sign-in sessions."""

    # ------------------------------------------------------------------ roles table and app sessions
    def roles_for(self, email: str) -> frozenset[str] | None:
        """The roles the table gives ``email`` (None when it is not in the table)."""
        from tdm1core.storage.access import parse_roles

        with self.engine.connect() as conn:
            value = conn.execute(sa.select(user_roles.c.roles).where(user_roles.c.email == email.strip().lower())).scalar()
        return None if value is None else parse_roles(value)

    def roles_table(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(user_roles).order_by(user_roles.c.email)).mappings().all()
        return [dict(r) for r in rows]

    def set_roles(self, email: str, roles: Iterable[str], who: Any = None) -> tuple[str, str]:
        """Give ``email`` exactly ``roles`` (none removes the row); audited with the previous and the new roles.
        Returns (previous, new) as space-separated text."""
        from tdm1core.storage.access import ROLES, parse_roles

        address = email.strip().lower()
        if "@" not in address or len(address) > 320 or any(ch.isspace() for ch in address):
            raise InputError(f"{email!r} is not an e-mail address.", source="roles table", column="email",
                             hint="Give the address the identity provider puts in the token's email claim.")
        wanted = [r.strip().lower() for r in roles if str(r).strip()]
        unknown = [r for r in wanted if r not in ROLES]
        if unknown:
            raise InputError(f"unknown role(s) {', '.join(unknown)}.", source="roles table", column="roles",
                             hint=f"Roles are {', '.join(ROLES)}.")
        new = " ".join(r for r in ROLES if r in parse_roles(wanted))

        def run() -> tuple[str, str]:
            with self.engine.begin() as conn:
                previous = conn.execute(sa.select(user_roles.c.roles).where(user_roles.c.email == address)).scalar() or ""
                conn.execute(user_roles.delete().where(user_roles.c.email == address))
                if new:
                    conn.execute(user_roles.insert().values(email=address, roles=new, updated_at=utc_now(),
                                                            updated_by=who_name(who)))
                if previous != new:
                    self._audit(conn, who, "roles change", f"user {address}", {"previous": previous, "new": new})
                return previous, new

        return self._retry(run)

    def touch_session(self, user: Any, now: dt.datetime, signed_in_at: dt.datetime, limits: Any,
                      every_seconds: float = 30.0, active: bool = True) -> str | None:
        """Record activity in the signed-in ``user``'s app session and return why it has ended (None while it goes
        on). A new session is recorded (and its sign-in audited); an ended one stays ended; a session past its idle or
        absolute limit is ended now (audited). ``last_seen`` is written at most every ``every_seconds``, and not at all
        when ``active`` is False (a timer checking the limits is not the user's activity)."""
        from tdm1core.storage.access import session_end_reason

        def run() -> str | None:
            with self.engine.begin() as conn:
                found = conn.execute(sa.select(user_sessions).where(user_sessions.c.key == user.session)).mappings().first()
                row: dict[str, Any] = dict(found) if found is not None else {}
                if found is None:
                    conn.execute(user_sessions.insert().values(key=user.session, subject=user.subject, email=user.email,
                                                               signed_in_at=signed_in_at, last_seen_at=now))
                    self._audit(conn, user, "sign in", f"user {user.audit_name}",
                                {"roles": " ".join(sorted(user.roles)) or "none", "roles from": user.roles_source},
                                category="access")
                    row = {"signed_in_at": signed_in_at, "last_seen_at": now, "ended_at": None, "end_reason": None}
                if row["ended_at"] is not None:
                    return str(row["end_reason"] or "the session has ended")

                def epoch(v: dt.datetime) -> float:
                    return (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)).timestamp()

                reason = session_end_reason(epoch(row["signed_in_at"]), epoch(row["last_seen_at"]), epoch(now), limits)
                if reason:
                    conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                 .values(ended_at=now, end_reason=reason))
                    self._audit(conn, user, "session ended", f"user {user.audit_name}", {"reason": reason},
                                category="access")
                    return reason
                if active and epoch(now) - epoch(row["last_seen_at"]) >= min(every_seconds, limits.idle_seconds / 4):
                    conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                 .values(last_seen_at=now))
                return None

        return self._retry(run)

    def end_session(self, user: Any, reason: str = "signed out") -> None:
        """End the user's app session (sign-out), audited; a later request with the same identity cookie is refused."""
        def run() -> None:
            with self.engine.begin() as conn:
                done = conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                    .where(user_sessions.c.ended_at.is_(None)).values(ended_at=utc_now(), end_reason=reason))
                if done.rowcount:
                    self._audit(conn, user, "sign out", f"user {user.audit_name}", {"reason": reason}, category="access")

        self._retry(run)
