"""The migrations build exactly the schema the models describe (on SQLite and PostgreSQL)."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from webapp.core.extensions import db
from webapp.models import text_search


def test_upgrade_from_empty_matches_the_models(app):
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()
    with db.engine.connect() as conn:
        # The log's text index lives outside the models (webapp/models/text_search.py).
        opts = {"compare_type": False, "include_name": text_search.include_name}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
        assert _has_text_index(conn), "the migration did not create the log's text index"
    assert diff == [], "models changed without a migration: run `make migrate`"
    downgrade(revision="base")
    with db.engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    # Leave the schema as the other tests expect it.
    db.create_all()


def _has_text_index(conn):
    inspector = sa.inspect(conn)
    if conn.dialect.name == "sqlite":
        return text_search.FTS_TABLE in inspector.get_table_names()
    return text_search.TRGM_INDEX in {ix["name"] for ix in inspector.get_indexes("messages")}



def test_every_revision_id_fits_alembic_version(app):
    """PostgreSQL's alembic_version.version_num is VARCHAR(32): a longer id fails only there, mid-upgrade."""
    from alembic.script import ScriptDirectory
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        revisions = [rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()]
    assert len(revisions) > 10
    assert [r for r in revisions if len(r) > 32] == []
