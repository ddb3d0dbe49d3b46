"""Every error answer, in one place: an HTML page (or an HTMX fragment) for the pages, and one JSON
shape, {"error": code, "message": text}, for /api/ (the OpenAPI document describes it)."""
import logging
import traceback

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from webapp.core.extensions import htmx

log = logging.getLogger(__name__)

# status → (code for /api/, sentence for a person)
ANSWERS = {
    400: ("bad_request", "The request could not be read. Reload the page and try again."),
    403: ("forbidden", "You don't have permission to do that."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("too_large", "The request is too large."),
    429: ("rate_limited", "Too many attempts. Wait a minute and try again."),
    500: ("internal_error", "Something went wrong on our side. Nothing you sent was lost; try again in a minute, "
                            "and tell your administrator if it keeps happening."),
}
CSRF_TEXT = "Your form expired or was sent from another site. Reload the page and try again."


def json_error(status, code, message, errors=None, headers=None):
    body = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_answer(status, text=None):
    code, default = ANSWERS.get(status, ("error", "Something went wrong."))
    text = text or default
    if request.path.startswith("/api/"):
        return json_error(status, code, text)
    if htmx:
        return render_template("partials/_error.html", message=text), status
    return render_template("errors/error.html", code=status, message=text), status


def init_app(app):
    app.log_exception = _log_without_text
    for status in ANSWERS:
        app.register_error_handler(status, lambda error, status=status: _answer(status, error))
    app.register_error_handler(CSRFError, lambda error: error_answer(400, CSRF_TEXT))


def _answer(status, error):
    return error_answer(status)


def _log_without_text(exc_info):
    """Flask logs an unhandled exception with its text, which can quote what a user or a gateway
    sent: log its type and where it happened instead."""
    kind, _, tb = exc_info
    log.error("Unhandled %s on %s %s\n%s", kind.__name__, request.method, request.url_rule or "?",
              "".join(traceback.format_tb(tb)))
