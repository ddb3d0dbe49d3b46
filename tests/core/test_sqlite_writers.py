"""SQLite writers queue on a lock file beside the database instead of SQLite's polling busy handler."""
import threading

import sqlalchemy as sa

import webapp.core.extensions  # noqa: F401 - registers the engine hooks under test


def _engine(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


def test_a_second_writer_waits_for_the_first_and_writes_once_it_commits(tmp_path):
    path = tmp_path / "closeline.db"
    first, second = _engine(path), _engine(path)
    done, errors = threading.Event(), []

    def write_second():
        try:
            with second.begin() as conn:
                # No busy handler at all: without the queue, SQLite would refuse at once.
                conn.execute(sa.text("PRAGMA busy_timeout=0"))
                conn.execute(sa.text("INSERT INTO notes (body) VALUES ('second')"))
        except Exception as exc:  # noqa: BLE001 - the test reports whatever the writer met
            errors.append(exc)
        done.set()

    with first.connect() as conn:
        conn.execute(sa.text("INSERT INTO notes (body) VALUES ('first')"))   # holds the write turn
        thread = threading.Thread(target=write_second)
        thread.start()
        assert not done.wait(0.5), "the second writer wrote while the first held the database"
        conn.commit()
    assert done.wait(30)
    thread.join()
    assert errors == []
    with first.connect() as conn:
        assert conn.execute(sa.text("SELECT body FROM notes ORDER BY id")).scalars().all() == ["first", "second"]
    assert (tmp_path / "closeline.db-writers.lock").exists()


def test_readers_do_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "closeline.db"
    writer, reader = _engine(path), _engine(path)
    with writer.connect() as conn:
        conn.execute(sa.text("INSERT INTO notes (body) VALUES ('pending')"))
        with reader.connect() as other:
            assert other.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 0
        conn.rollback()
    with writer.begin() as conn:     # the turn came back with the rollback
        conn.execute(sa.text("INSERT INTO notes (body) VALUES ('kept')"))
    with reader.connect() as other:
        assert other.execute(sa.text("SELECT body FROM notes")).scalars().all() == ["kept"]
