"""Log lines of every process (web, worker, cron): plain text, or with LOG_FORMAT=json one JSON
object per line (timestamp, level, logger, message, request_id, workspace_id, job_id) for a log
collector.

Closeline's own log messages carry ids and outcomes, never message text. As a second line of
defence the formatter masks credentials that a library might put into a line: Authorization
values, Close API keys and the query values OAuth codes and tokens travel in.
"""
import inspect
import json
import logging
import re
import sys
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import g, has_request_context, request

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRETS = [
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 [redacted]"),
    (re.compile(r"\bapi_[A-Za-z0-9_.-]{8,}"), "api_[redacted]"),
    (re.compile(r"([?&](?:code|state|token|access_token|refresh_token|hub\.verify_token|client_secret)=)[^&\s\"']+",
                re.IGNORECASE), r"\1[redacted]"),
]


def mask_secrets(text):
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


# The job a worker is running, set by the worker around it (jobs/worker.py): RQ's own lines
# about the job (started, OK, failed) are written outside the job function.
_worker_job = ContextVar("closeline_log_job", default=None)


@contextmanager
def job_fields(job):
    token = _worker_job.set(job)
    try:
        yield
    finally:
        _worker_job.reset(token)


def _current_job():
    job = _worker_job.get()
    if job is not None:
        return job
    try:
        from rq import get_current_job
        return get_current_job()
    except Exception:  # noqa: BLE001 - outside a worker, or RQ cannot tell
        return None


def _job_workspace(job):
    """A job that takes a workspace_id (the drain, its kick) names the workspace it works for."""
    if "workspace_id" in (job.kwargs or {}):
        return job.kwargs["workspace_id"]
    try:
        parameters = list(inspect.signature(job.func).parameters)
    except Exception:  # noqa: BLE001 - an unimportable function: no workspace to tell
        return None
    if parameters[:1] == ["workspace_id"] and job.args:
        return job.args[0]
    return None


def _request_workspace():
    membership = g.get("membership")
    if membership is not None:
        return membership.workspace_id
    api_key = g.get("api_key")
    return getattr(api_key, "workspace_id", None)


class ContextFilter(logging.Filter):
    """Adds request_id, workspace_id and job_id to every record (None where they do not apply)."""

    def filter(self, record):
        record.request_id = record.workspace_id = record.job_id = None
        if has_request_context():
            record.request_id = g.get("request_id")
            try:
                record.workspace_id = _request_workspace()
            except Exception:  # noqa: BLE001 - a detached row: the line goes out without it
                record.workspace_id = None
        job = _current_job()
        if job is not None:
            record.job_id = job.id
            if record.workspace_id is None:
                record.workspace_id = _job_workspace(job)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "workspace_id": getattr(record, "workspace_id", None),
            "job_id": getattr(record, "job_id", None),
        }
        if record.exc_info:
            line["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record):
        return mask_secrets(super().format(record))


def handler(log_format):
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT))
    stream.addFilter(ContextFilter())
    return stream


def configure(log_format="text", level=logging.INFO):
    """One handler on the root logger; RQ's and gunicorn's loggers hand their records to it, so
    every line of the process has the same shape."""
    root = logging.getLogger()
    root.handlers[:] = [handler(log_format)]
    root.setLevel(level)
    for name in list(logging.root.manager.loggerDict):
        if name == "rq" or name.startswith("rq."):
            logger = logging.getLogger(name)
            logger.handlers[:] = []
            logger.propagate = True


def init_request_ids(app):
    """Each request gets an id (a sane incoming X-Request-ID is kept), logged and sent back."""
    @app.before_request
    def _request_id():
        offered = request.headers.get("X-Request-ID", "")
        g.request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex

    @app.after_request
    def _send_request_id(response):
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response
