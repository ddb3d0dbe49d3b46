"""Flask extensions, created once and bound to the app in create_app()."""
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
