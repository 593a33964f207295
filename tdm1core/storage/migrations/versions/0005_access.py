"""Access: who did it (subject, e-mail, session) and what kind of entry (write or access) on every audit entry; the
roles table; app sessions (for the idle and absolute limits); the audit log made append-only.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tdm1_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("subject", sa.String(200)))
        batch.add_column(sa.Column("email", sa.String(320)))
        batch.add_column(sa.Column("session", sa.String(64)))
        batch.add_column(sa.Column("category", sa.String(10), nullable=False, server_default="write"))
    op.create_index("ix_audit_log_category_id", "audit_log", ["category", "id"])
    op.create_table(
        "user_roles",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(320)),
    )
    op.create_table(
        "user_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200)), sa.Column("email", sa.String(320)),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.String(200)),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER tdm1_audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION tdm1_audit_log_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: {what} is refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tdm1_audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS tdm1_audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("user_sessions")
    op.drop_table("user_roles")
    op.drop_index("ix_audit_log_category_id", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        for c in ("category", "session", "email", "subject"):
            batch.drop_column(c)
