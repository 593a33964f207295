"""Released reports: immutable versions with the released PDF (tdm1core.reporting.release); UPDATE and DELETE are refused.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tdm1_released_reports_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'released reports are immutable: % is refused (release an amended version instead)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "released_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.String(40), nullable=False), sa.Column("version", sa.Integer, nullable=False),
        sa.Column("patient_id", sa.String(200)), sa.Column("sample", sa.String(500), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False), sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False), sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("report_id", "version", name="uq_released_reports_id_version"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER tdm1_released_reports_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON released_reports "
                   "FOR EACH STATEMENT EXECUTE FUNCTION tdm1_released_reports_immutable()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER released_reports_no_{what.lower()} BEFORE {what} ON released_reports "
                       f"BEGIN SELECT RAISE(ABORT, 'released reports are immutable: {what} is refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tdm1_released_reports_immutable ON released_reports")
        op.execute("DROP FUNCTION IF EXISTS tdm1_released_reports_immutable()")
    op.drop_table("released_reports")
