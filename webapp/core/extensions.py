"""Flask extensions, created once and bound to the app in create_app()."""
import fcntl
import os
import sqlite3

import email_validator
import sqlalchemy as sa
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

# The demo people live under the reserved .test domain (RFC 2606); let forms accept it.
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
bootstrap = Bootstrap5()
babel = Babel()
# Only routes that opt in are limited (sign-in); storage is set from REDIS_URL in create_app.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_enforce_foreign_keys(dbapi_connection, connection_record):
    # SQLite ignores ON DELETE rules unless asked; PostgreSQL always enforces them.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers never block the writer and commits skip most fsyncs, so API acks stay fast
        # while workers write (sync engine). A no-op for in-memory databases.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # One writer at a time: with a drain's pool, ingest and the sweeper all writing on a busy
        # machine, a short write can queue for seconds; wait for it rather than fail.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


class _WritersTakeTurns(sqlite3.Connection):
    """A SQLite connection that queues for the database's write lock on a lock file beside it.

    SQLite's own busy handler polls with growing sleeps (up to 100 ms each), so while workers commit
    hundreds of short writes a second an API or webhook write can lose every poll and wait for a
    third of a second. flock wakes a waiter the moment the writer before it commits. The lock is
    taken before the first write of a transaction (as SQLite's is) and given back after commit or
    rollback, so it is held exactly as long as SQLite's write lock; readers never take it."""

    _WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC", "CREATE", "DROP", "ALTER", "BEGIN IMMEDIATE")

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._turn = os.open(f"{database}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._holding = False

    def wait_turn_for(self, statement):
        if not self._holding and statement.lstrip()[:15].upper().startswith(self._WRITES):
            fcntl.flock(self._turn, fcntl.LOCK_EX)
            self._holding = True

    def _give_turn(self):
        if self._holding:
            self._holding = False
            fcntl.flock(self._turn, fcntl.LOCK_UN)

    def commit(self):
        try:
            super().commit()
        finally:
            self._give_turn()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._give_turn()

    def close(self):
        try:
            super().close()
        finally:
            self._give_turn()
            os.close(self._turn)


@sa.event.listens_for(sa.engine.Engine, "do_connect")
def _sqlite_files_queue_their_writers(dialect, connection_record, cargs, cparams):
    database = cargs[0] if cargs else cparams.get("database", "")
    if dialect.name == "sqlite" and database and database != ":memory:" and not str(database).startswith("file:"):
        cparams["factory"] = _WritersTakeTurns


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _sqlite_writer_waits_its_turn(conn, cursor, statement, parameters, context, executemany):
    dbapi_connection = conn.connection.dbapi_connection
    if isinstance(dbapi_connection, _WritersTakeTurns):
        dbapi_connection.wait_turn_for(statement)


@sa.event.listens_for(sa.engine.Engine, "savepoint")
def _sqlite_savepoint_inside_a_transaction(conn, name):
    """pysqlite starts transactions only before INSERT/UPDATE/DELETE, so a SAVEPOINT issued after
    mere SELECTs opens the transaction itself and its RELEASE commits everything: a request that
    later fails would keep the rows of its finished savepoints. Emit the BEGIN ourselves first
    (the idea of SQLAlchemy's pysqlite savepoint recipe, applied only where a savepoint needs it;
    see docs/decisions/0032-sqlite-savepoints-begin-first.md)."""
    if conn.dialect.name == "sqlite":
        dbapi_connection = conn.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")


def begin_writing(session):
    """SQLite: take the write lock now (BEGIN IMMEDIATE) for a transaction that reads, then writes.
    A deferred transaction whose reads began before another writer committed can never write
    ("database is locked" at once: busy_timeout does not apply to it), so a busy ingest failed or
    retried; an immediate one waits its turn under busy_timeout. PostgreSQL: nothing to do."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
