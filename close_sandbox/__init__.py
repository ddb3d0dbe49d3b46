"""close_sandbox — a local, in-memory fake of the Close CRM API for development, tests and demos.

It shares no code with Closeline's Close client on purpose (a bug cannot hide on both sides).
"""
import logging
import os
import secrets
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .core import Sandbox, sandbox
from .errors import ApiError
from .faults import gateway_body
from .ids import iso

log = logging.getLogger("close_sandbox")

DEFAULTS = {
    "PUBLIC_URL": "http://127.0.0.1:5050",
    "REDIRECT_URIS": ["http://127.0.0.1:5000/integrations/close/callback"],
    "ACCESS_TOKEN_TTL": 3600,
    "AUTH_CODE_TTL": 60,
    "UPLOAD_POLICY_TTL": 60,  # Close: upload to S3 within 60 s
    "RATE_LIMIT": 600,  # per credential per endpoint group per window; org layer is 3x
    "RATE_WINDOW": 10.0,
    "RATE_LIMITS": {},  # {"activity": {"limit": 40, "window": 1}}
    "MAX_ATTACHMENT_BYTES": 25_000_000,  # Close's "25 MB" per message, in decimal bytes
    "STRICT": False,  # refuse what real Close may refuse although the docs don't say (GET /role/admin/)
    "SEARCH_INDEX_DELAY": 0.0,  # seconds before a new lead/contact shows in /data/search/
    "DECLINE_WITH_STATE": False,  # Close's decline redirect may carry no state (close-api.md §2.2)
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "CONTROL_API": True,
    "LOG_REQUESTS": True,
    "SESSION_COOKIE_NAME": "close_sandbox_session",  # cookies ignore ports: don't clash with Closeline's
}
LOGGED_PREFIXES = ("/api/v1/", "/oauth2/token/", "/oauth2/revoke/")


def _env_config() -> dict:
    env = {}
    if os.environ.get("SANDBOX_PUBLIC_URL"):
        env["PUBLIC_URL"] = os.environ["SANDBOX_PUBLIC_URL"]
    if os.environ.get("SANDBOX_REDIRECT_URIS"):
        env["REDIRECT_URIS"] = [u.strip() for u in os.environ["SANDBOX_REDIRECT_URIS"].split(",") if u.strip()]
    if os.environ.get("SANDBOX_ACCESS_TOKEN_TTL"):
        env["ACCESS_TOKEN_TTL"] = int(os.environ["SANDBOX_ACCESS_TOKEN_TTL"])
    if os.environ.get("SANDBOX_STRICT"):
        env["STRICT"] = os.environ["SANDBOX_STRICT"].lower() in ("1", "true", "yes", "on")
    if os.environ.get("SANDBOX_SEARCH_INDEX_DELAY"):
        env["SEARCH_INDEX_DELAY"] = float(os.environ["SANDBOX_SEARCH_INDEX_DELAY"])
    if os.environ.get("SANDBOX_SECRET_KEY"):
        env["SECRET_KEY"] = os.environ["SANDBOX_SECRET_KEY"]
    return env


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.update(_env_config())
    app.config.update(config or {})
    if isinstance(app.config["REDIRECT_URIS"], str):
        app.config["REDIRECT_URIS"] = [u.strip() for u in app.config["REDIRECT_URIS"].split(",") if u.strip()]
    app.json.sort_keys = False
    app.json.compact = True

    app.extensions["close_sandbox"] = Sandbox(app)

    from . import api, api_leads, api_whatsapp, control, files, oauth, pages, search  # noqa: F401 (routes)

    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(pages.bp)
    if app.config["CONTROL_API"]:
        app.register_blueprint(control.bp)

    _install_hooks(app)
    return app


def _install_hooks(app: Flask) -> None:
    @app.before_request
    def _faults_then_lock():
        sb = sandbox()
        g.t0 = time.perf_counter()
        g.logged = request.path.startswith(LOGGED_PREFIXES)
        if g.logged:
            fate = g.fate = sb.faults.roll(request.path, request.method)
            if fate["latency"]:
                time.sleep(fate["latency"])
            if fate["error"]:
                return _fault_response(fate["error"])  # nothing is written
        # One lock around every handler: simple, and fast enough for hundreds of req/s.
        sb.world.lock.acquire()
        g.locked = True

    @app.after_request
    def _lost_and_log(resp):
        if not g.get("logged"):
            return resp
        sb = sandbox()
        fate = g.get("fate") or {}
        fault = "error" if fate.get("error") else None
        if fate.get("lost"):  # the handler ran and committed; the client never sees it
            resp = Response(gateway_body(502), status=502, mimetype="text/html")
            fault = "response_lost"
        caller = g.get("caller")
        entry = {
            "time": iso(time.time()), "method": request.method, "path": request.path,
            "query": request.query_string.decode("latin-1"), "status": resp.status_code,
            "organization_id": caller.org.id if caller else g.get("log_org"),
            "user_id": caller.user.id if caller else None,
            "credential": caller.kind if caller else ("client" if g.get("log_client") else None),
            "group": g.get("group"), "fault": fault,
            "duration_ms": round((time.perf_counter() - g.t0) * 1000, 2),
        }
        sb.log(entry)
        if sb.config["LOG_REQUESTS"]:
            log.info("%s %s %s org=%s%s", request.method, request.path, resp.status_code,
                     entry["organization_id"], f" fault={fault}" if fault else "")
        if fate.get("response_delay"):  # committed and logged; the answer is slow on its way back
            if g.pop("locked", False):
                sb.world.lock.release()
            time.sleep(fate["response_delay"])
        return resp

    @app.teardown_request
    def _unlock(_exc):
        if g.pop("locked", False):
            sandbox().world.lock.release()

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/api/v1/") or request.path.startswith("/oauth2/token"):
            resp = jsonify({"error": exc.description or exc.name})
            resp.status_code = exc.code or 500
            return resp
        return exc


def _fault_response(status: int) -> Response:
    if status in (502, 504):
        return Response(gateway_body(status), status=status, mimetype="text/html")
    resp = jsonify({"error": gateway_body(status).split("<title>")[1].split("</title>")[0]})
    resp.status_code = status
    if status == 429:
        resp.headers["retry-after"] = "1"
    return resp
