"""Serial monitoring: the sample table (a patient's samples with their collection dates and volumes) and the events
table (treatments and imaging), linked to the stored exports by sample ID; and each stored hotspot call's CI, call,
95 % detectable VAF and genome equivalents as columns of ``hotspot_calls`` (a timeline reads them without decoding
each call's result JSON), filled in from that JSON for the calls already stored.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


_NEW = ("mutant_ci_low", "mutant_ci_high", "detectable_vaf_95", "genome_equivalents")


def upgrade() -> None:
    import json

    with op.batch_alter_table("hotspot_calls") as batch:
        for name in _NEW:
            batch.add_column(sa.Column(name, sa.Float))
        batch.add_column(sa.Column("call", sa.String(30)))
    conn = op.get_bind()
    hc = sa.table("hotspot_calls", sa.column("id"), sa.column("call_id"), sa.column("hotspot"), sa.column("call"),
                  *(sa.column(n) for n in _NEW))
    calls = sa.table("calls", sa.column("id"), sa.column("result"))
    rows = conn.execute(sa.select(hc.c.id, hc.c.hotspot, calls.c.result).join(calls, calls.c.id == hc.c.call_id)).all()
    for row_id, hotspot, result in rows:
        spot = (json.loads(result).get("pik3ca") or {}).get(hotspot) or {}
        conn.execute(hc.update().where(hc.c.id == row_id).values(call=spot.get("call"), **{n: spot.get(n) for n in _NEW}))
    op.create_table(
        "serial_samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.String(200), nullable=False, index=True),
        sa.Column("sample_id", sa.String(500), nullable=False, unique=True),
        sa.Column("collection_date", sa.String(10), nullable=False),
        sa.Column("plasma_ml", sa.Float), sa.Column("eluate_ul", sa.Float), sa.Column("template_ul", sa.Float),
        sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "serial_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.String(200), nullable=False, index=True),
        sa.Column("event_date", sa.String(10), nullable=False), sa.Column("event_type", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("serial_events")
    op.drop_table("serial_samples")
    with op.batch_alter_table("hotspot_calls") as batch:
        for name in (*_NEW, "call"):
            batch.drop_column(name)
