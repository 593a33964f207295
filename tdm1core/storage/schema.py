"""The database schema: one table per stored concept, the same as the Alembic migrations
(``tdm1core/storage/migrations``; tests/test_schema.py checks that they never drift)."""
from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata", "HEAD_REVISION"]

metadata = sa.MetaData()
# The same schema as the Alembic migrations (tdm1core/storage/migrations); tests/test_schema.py checks that they never drift.
files = sa.Table(
    "files", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(500), nullable=False), sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False), sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("format", sa.String(100)), sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("uploaded_by", sa.String(200)), sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("kind", "sha256", name="uq_files_kind_sha256"),
)
wells = sa.Table(
    "wells", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("row", sa.Integer), sa.Column("well", sa.String(20), nullable=False), sa.Column("sample", sa.String(500)),
    sa.Column("target", sa.String(500)), sa.Column("target_type", sa.String(20)), sa.Column("channel", sa.String(20)),
    sa.Column("status", sa.String(50)), sa.Column("positives", sa.Integer), sa.Column("negatives", sa.Integer),
    sa.Column("accepted_droplets", sa.Integer), sa.Column("exported_concentration", sa.Float),
    sa.Column("exported_state", sa.String(20)), sa.Column("merged", sa.Boolean), sa.Column("merged_members", sa.String(500)),
    sa.Column("saturated", sa.Boolean), sa.Column("warnings", sa.Text),
)
patients = sa.Table(
    "patients", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("patient_id", sa.String(200), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="SET NULL")),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
)
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(200)), sa.Column("action", sa.String(50), nullable=False), sa.Column("entity", sa.String(200)),
    sa.Column("detail", sa.Text),
    # who, from the identity token (signed-in mode): subject and e-mail; the app session; "write" or "access"
    sa.Column("subject", sa.String(200)), sa.Column("email", sa.String(320)), sa.Column("session", sa.String(64)),
    sa.Column("category", sa.String(10), nullable=False, server_default="write"),
    sa.Index("ix_audit_log_category_id", "category", "id"),
)
# e-mail (lower case) -> roles, for users whose identity token has no roles claim; kept by an admin in the app
user_roles = sa.Table(
    "user_roles", metadata,
    sa.Column("email", sa.String(320), primary_key=True), sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False), sa.Column("updated_by", sa.String(320)),
)
# one row per sign-in (tdm1core.storage.access.session_key): the app's own idle and absolute limits
user_sessions = sa.Table(
    "user_sessions", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(200)), sa.Column("email", sa.String(320)),
    sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)), sa.Column("end_reason", sa.String(200)),
)
# the lab's cut-off profiles (tdm1core.calling.profiles): a name saved again is the next version; none is ever changed
cutoff_profiles = sa.Table(
    "cutoff_profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False), sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False), sa.Column("created_by", sa.String(320)),
    sa.UniqueConstraint("name", "version", name="uq_cutoff_profiles_name_version"),
)
# released reports (tdm1core.reporting.release): one row per version, never changed (the database refuses UPDATE and DELETE)
released_reports = sa.Table(
    "released_reports", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.String(40), nullable=False), sa.Column("version", sa.Integer, nullable=False),
    sa.Column("patient_id", sa.String(200)), sa.Column("sample", sa.String(500), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False), sa.Column("pdf_sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False), sa.Column("pdf", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("report_id", "version", name="uq_released_reports_id_version"),
)
calls_t = sa.Table(
    "calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("sample", sa.String(500), nullable=False), sa.Column("her2_ratio", sa.Float), sa.Column("her2_call", sa.String(30)),
    sa.Column("her2_borderline", sa.Boolean), sa.Column("pik3ca_any_mutant", sa.Boolean),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("settings_hash", sa.String(64), nullable=False, index=True),  # Settings.calls_fingerprint
    sa.UniqueConstraint("file_id", "sample", "settings_hash", name="uq_calls_file_sample_settings"),
    sa.Index("ix_calls_sample_settings", "sample", "settings_hash"),  # one patient's timeline (migration 0010)
)
# one row per hotspot of the panel (tdm1core.panel) a call measured: a new hotspot needs no new column (migration 0008)
hotspot_calls = sa.Table(
    "hotspot_calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.Integer, sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("hotspot", sa.String(40), nullable=False),
    sa.Column("mutant_copies", sa.Float), sa.Column("wildtype_copies", sa.Float),
    # migration 0009: what a monitoring timeline reads, without decoding the call's result JSON
    sa.Column("mutant_ci_low", sa.Float), sa.Column("mutant_ci_high", sa.Float), sa.Column("call", sa.String(30)),
    sa.Column("detectable_vaf_95", sa.Float), sa.Column("genome_equivalents", sa.Float),
    sa.UniqueConstraint("call_id", "hotspot", name="uq_hotspot_calls_call_hotspot"),
)
# one row per (file, settings hash) called: a file is parsed and called once per settings (see workflows.cohort_view)
call_sets = sa.Table(
    "call_sets", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    sa.Column("settings_hash", sa.String(64), nullable=False, index=True),
    sa.Column("settings", sa.Text, nullable=False), sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("file_id", "settings_hash", name="uq_call_sets_file_settings"),
)
# the validated patient table per state of the stored patients (tdm1core.stats.cohort_snapshot; workflows.cohort_view)
cohort_snapshots = sa.Table(
    "cohort_snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("revision", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False), sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("revision", name="uq_cohort_snapshots_revision"),
)
# the stored calls table's columns by the names of tdm1core.calling.calls.CALL_TABLE_COLUMNS (hotspots: hotspot_calls)
CALL_COLUMNS = {"sample": "sample", "her2_ratio": "her2_ratio", "her2_call": "her2_call",
                "her2_borderline": "her2_borderline", "pik3ca_any_mutant": "pik3ca_any_mutant"}
app_settings = sa.Table(
    "app_settings", metadata,
    sa.Column("key", sa.String(50), primary_key=True), sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
WELL_COLUMNS = [c.name for c in wells.columns if c.name not in ("id", "file_id")]
# serial monitoring (migration 0009): a patient's samples and events, linked to the stored exports by sample ID
serial_samples = sa.Table(
    "serial_samples", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.String(200), nullable=False, index=True),
    sa.Column("sample_id", sa.String(500), nullable=False, unique=True),
    sa.Column("collection_date", sa.String(10), nullable=False),
    sa.Column("plasma_ml", sa.Float), sa.Column("eluate_ul", sa.Float), sa.Column("template_ul", sa.Float),
    sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
)
serial_events = sa.Table(
    "serial_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.String(200), nullable=False, index=True),
    sa.Column("event_date", sa.String(10), nullable=False), sa.Column("event_type", sa.String(30), nullable=False),
    sa.Column("detail", sa.String(200), nullable=False),
    sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
)
HEAD_REVISION = "0010"  # the newest migration (tests/test_schema.py checks it against Alembic's head)
