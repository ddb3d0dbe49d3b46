"""/healthz and /readyz: no sign-in (an orchestrator calls them)."""
from flask import Blueprint, current_app

from webapp.operations import readiness

bp = Blueprint("operations", __name__)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def healthz():
    """The process is alive and serving: no I/O, so a slow dependency never restarts the web."""
    return _no_store(current_app.response_class('{"status": "ok"}\n', mimetype="application/json"))


@bp.route("/readyz")
def readyz():
    failing = readiness.not_ready()
    if failing:
        response = current_app.json.response({"status": "not ready", "not_ready": failing})
        response.status_code = 503
    else:
        response = current_app.json.response({"status": "ready"})
    return _no_store(response)

