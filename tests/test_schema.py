"""One schema: the SQLAlchemy tables in tdm1core.storage.store and the Alembic migrations describe the same database."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tdm1core.storage.store import Store, metadata


def test_migrations_and_tables_do_not_drift(url):
    store = Store(url)  # upgrade head
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], diff


def test_the_drift_check_can_fail(url):
    store = Store(url)
    extra = sa.MetaData()
    for t in metadata.tables.values():
        t.to_metadata(extra)
    sa.Table("not_migrated", extra, sa.Column("id", sa.Integer, primary_key=True))
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), extra)
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in diff)


def test_the_head_revision_the_store_knows_is_alembics_head():
    """Store.migrate skips Alembic when the database is at HEAD_REVISION; it must be the newest migration."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tdm1core.storage.engine import MIGRATIONS
    from tdm1core.storage.schema import HEAD_REVISION

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION
