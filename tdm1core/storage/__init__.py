"""Storage and access: the database (SQLAlchemy over SQLite or PostgreSQL, Alembic migrations), users and
roles, and the audit of who saw and changed what. Depends on the layers below it, never on ``tdm1core.app``."""
