"""Per-hotspot values as rows, and stored calls keyed by the settings the calls read.

* ``hotspot_calls``: one row per (call, hotspot) with the mutant and wild-type copies per 20 µL, so a hotspot added to
  the panel (tdm1core.panel) needs no new column. The three column pairs of ``calls`` move there and are dropped.
* ``calls.settings_hash`` and ``call_sets.settings_hash`` become the calls fingerprint: the hash of the stored settings
  without ``km_ci_method`` and ``date_order``, which no call reads (Settings.calls_fingerprint). Call sets that now
  share a key (the same file called under two Kaplan-Meier CI methods) are the same calls: the oldest is kept.

Revision ID: 0008
Revises: 0007
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

HOTSPOTS = ("E542K", "E545K", "H1047R")  # the column pairs of migration 0003, frozen
NOT_READ_BY_CALLS = ("km_ci_method", "date_order")  # frozen copy of tdm1core.settings.NOT_READ_BY_CALLS


def _calls_hash(settings_json: str) -> str:
    data = {k: v for k, v in json.loads(settings_json).items() if k not in NOT_READ_BY_CALLS}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _hotspot_rows(conn) -> list[dict]:
    cols = [f"{h.lower()}_{k}" for h in HOTSPOTS for k in ("mutant", "wildtype")]
    calls = sa.table("calls", sa.column("id"), *(sa.column(c) for c in cols))
    rows = []
    for r in conn.execute(sa.select(calls)).mappings():
        for h in HOTSPOTS:
            mut, wt = r[f"{h.lower()}_mutant"], r[f"{h.lower()}_wildtype"]
            if mut is not None or wt is not None:
                rows.append({"call_id": r["id"], "hotspot": h, "mutant_copies": mut, "wildtype_copies": wt})
    return rows


def _rekey(conn) -> None:
    sets = sa.table("call_sets", sa.column("id"), sa.column("file_id"), sa.column("settings_hash"), sa.column("settings"))
    calls = sa.table("calls", sa.column("id"), sa.column("file_id"), sa.column("settings_hash"))
    kept: dict[tuple[int, str], str] = {}
    for r in conn.execute(sa.select(sets).order_by(sets.c.id)).all():
        new = _calls_hash(r.settings)
        if (r.file_id, new) in kept:  # the same calls under a setting no call reads: keep the oldest
            conn.execute(calls.delete().where(calls.c.file_id == r.file_id, calls.c.settings_hash == r.settings_hash))
            conn.execute(sets.delete().where(sets.c.id == r.id))
            continue
        kept[(r.file_id, new)] = r.settings_hash
        conn.execute(calls.update().where(calls.c.file_id == r.file_id, calls.c.settings_hash == r.settings_hash)
                     .values(settings_hash="~" + new))  # a temporary key: no clash with a row not yet renamed
        conn.execute(sets.update().where(sets.c.id == r.id).values(settings_hash="~" + new))
    for table in (calls, sets):
        conn.execute(table.update().where(table.c.settings_hash.like("~%"))
                     .values(settings_hash=sa.func.substr(table.c.settings_hash, 2)))


def upgrade() -> None:
    # read first, then drop the columns, then create the rows: SQLite's batch mode recreates ``calls``, and dropping
    # the old table would cascade to rows that already referred to it
    conn = op.get_bind()
    _rekey(conn)
    rows = _hotspot_rows(conn)
    with op.batch_alter_table("calls") as batch:
        for h in HOTSPOTS:
            batch.drop_column(f"{h.lower()}_mutant")
            batch.drop_column(f"{h.lower()}_wildtype")
    hotspot_calls = op.create_table(
        "hotspot_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.Integer, sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("hotspot", sa.String(40), nullable=False),
        sa.Column("mutant_copies", sa.Float), sa.Column("wildtype_copies", sa.Float),
        sa.UniqueConstraint("call_id", "hotspot", name="uq_hotspot_calls_call_hotspot"),
    )
    op.create_index("ix_hotspot_calls_call_id", "hotspot_calls", ["call_id"])
    if rows:
        op.bulk_insert(hotspot_calls, rows)


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for h in HOTSPOTS:
            batch.add_column(sa.Column(f"{h.lower()}_mutant", sa.Float))
            batch.add_column(sa.Column(f"{h.lower()}_wildtype", sa.Float))
    op.drop_index("ix_hotspot_calls_call_id", "hotspot_calls")
    op.drop_table("hotspot_calls")
