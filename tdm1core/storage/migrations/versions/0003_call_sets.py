"""Stored calls keyed by the file's SHA-256 and a hash of the settings and target map that produced them.

* ``call_sets``: one row per (file, settings hash) that has been called, with the settings themselves; a file with no
  callable sample still gets its row, so it is never parsed again for the same settings.
* ``calls`` gains ``settings_hash`` and the per-hotspot copies (what a cohort view needs without reading the JSON),
  and loses its per-row copy of the settings (kept once in ``call_sets``).

Existing calls are kept: their settings hash is worked out from the settings they were stored with.

Revision ID: 0003
Revises: 0002
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HOTSPOT_COLUMNS = ("e542k_mutant", "e542k_wildtype", "e545k_mutant", "e545k_wildtype", "h1047r_mutant", "h1047r_wildtype")


def _hash(settings_json: str) -> str:
    # the same hash as tdm1core.app.workflows.settings_hash: sha256 of the sorted-key JSON, first 16 hex digits
    return hashlib.sha256(json.dumps(json.loads(settings_json), sort_keys=True).encode()).hexdigest()[:16]


def upgrade() -> None:
    op.create_table(
        "call_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
        sa.Column("settings_hash", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("file_id", "settings_hash", name="uq_call_sets_file_settings"),
    )
    op.create_index("ix_call_sets_settings_hash", "call_sets", ["settings_hash"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("settings_hash", sa.String(64), nullable=False, server_default=""))
        for name in HOTSPOT_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float))

    conn = op.get_bind()
    calls = sa.table("calls", sa.column("id"), sa.column("file_id"), sa.column("settings"), sa.column("settings_hash"),
                     sa.column("result"), sa.column("computed_at"), *(sa.column(n) for n in HOTSPOT_COLUMNS))
    call_sets = sa.table("call_sets", sa.column("file_id"), sa.column("settings_hash"), sa.column("settings"),
                         sa.column("samples"), sa.column("computed_at"))
    sets: dict[tuple[int, str], dict] = {}
    for row in conn.execute(sa.select(calls.c.id, calls.c.file_id, calls.c.settings, calls.c.result, calls.c.computed_at)).all():
        h = _hash(row.settings)
        pik = json.loads(row.result).get("pik3ca", {})
        copies = {}
        for hotspot in ("E542K", "E545K", "H1047R"):
            h_d = pik.get(hotspot) or {}
            copies[f"{hotspot.lower()}_mutant"] = h_d.get("mutant_copies")
            copies[f"{hotspot.lower()}_wildtype"] = h_d.get("wildtype_copies")
        conn.execute(calls.update().where(calls.c.id == row.id).values(settings_hash=h, **copies))
        entry = sets.setdefault((row.file_id, h), {"file_id": row.file_id, "settings_hash": h, "settings": row.settings,
                                                   "samples": 0, "computed_at": row.computed_at})
        entry["samples"] += 1
    if sets:
        conn.execute(call_sets.insert(), list(sets.values()))

    with op.batch_alter_table("calls") as batch:
        batch.drop_column("settings")
        batch.alter_column("settings_hash", server_default=None)
        batch.create_unique_constraint("uq_calls_file_sample_settings", ["file_id", "sample", "settings_hash"])
        batch.create_index("ix_calls_settings_hash", ["settings_hash"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_settings_hash")
        batch.drop_constraint("uq_calls_file_sample_settings", type_="unique")
        batch.add_column(sa.Column("settings", sa.Text, nullable=False, server_default="{}"))
    # each call gets back the settings it was made with
    op.execute("UPDATE calls SET settings = (SELECT s.settings FROM call_sets s WHERE s.file_id = calls.file_id "
               "AND s.settings_hash = calls.settings_hash) WHERE EXISTS (SELECT 1 FROM call_sets s "
               "WHERE s.file_id = calls.file_id AND s.settings_hash = calls.settings_hash)")
    with op.batch_alter_table("calls") as batch:
        for name in HOTSPOT_COLUMNS:
            batch.drop_column(name)
        batch.drop_column("settings_hash")
    op.drop_index("ix_call_sets_settings_hash", "call_sets")
    op.drop_table("call_sets")
