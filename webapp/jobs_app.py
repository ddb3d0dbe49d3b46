"""The Flask app used inside RQ jobs (one per worker process, created on first use)."""
from flask import current_app, has_app_context

from webapp import create_app

_app = None


def job_context():
    """Inside an app already (tests, `flask shell`): that app; in a worker: the worker's app."""
    if has_app_context():
        return current_app._get_current_object().app_context()
    return job_app().app_context()


def job_app():
    global _app
    if _app is None:
        _app = create_app()
    return _app
