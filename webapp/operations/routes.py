"""/healthz, /readyz and /metrics: no sign-in (an orchestrator calls them); /metrics wants the
METRICS_TOKEN as a bearer token and is off (404) while none is configured."""
import hmac

from flask import Blueprint, Response, abort, current_app, request

from webapp.operations import exposition, readiness

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


@bp.route("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    offered = request.headers.get("Authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return Response("A valid METRICS_TOKEN is needed as a bearer token.\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
                        mimetype="text/plain")
    body, content_type = exposition.render()
    return _no_store(Response(body, mimetype=None, content_type=content_type))
