"""Scheduled jobs that loop over rows run each row in its own try: one bad row (a stored value a
gateway call chokes on, a bug hit by one workspace's data) fails only itself, not every other row
every minute. The log names the row and the error's type only, never its text (which may carry a
secret or a message)."""
import logging

from webapp.core.extensions import db

log = logging.getLogger(__name__)


def for_each(ids, work, what, on_error=None):
    """work(id) for every id; on a failure the session is rolled back, the type logged and
    on_error(id, exc) asked to record a visible reason. Returns how many ids succeeded."""
    done = 0
    for row_id in ids:
        try:
            work(row_id)
            done += 1
        except Exception as exc:
            db.session.rollback()
            log.error("%s %s failed: %s", what, row_id, type(exc).__name__)
            if on_error is not None:
                _record(on_error, row_id, exc, what)
    return done


def _record(on_error, row_id, exc, what):
    try:
        on_error(row_id, exc)
        db.session.commit()
    except Exception as again:  # the row itself may be what fails: the log line is all we can do
        db.session.rollback()
        log.error("%s %s: its failure could not be recorded: %s", what, row_id, type(again).__name__)


def reason(exc):
    """The text shown on a row whose scheduled work failed: the error's type, never its message."""
    return f"The scheduled check failed here ({type(exc).__name__}); it is tried again on the next run."
