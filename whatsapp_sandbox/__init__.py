"""whatsapp_sandbox — a local, in-memory simulated WhatsApp world with gateway façades:
WAHA (`/waha`), Evolution API v2 (`/evolution`) and the WhatsApp Cloud API (`/graph`), a phone
simulator (`/phones/`) and a control API (`/_sandbox/`) for tests and demos.

It shares no code with Closeline's gateway adapters on purpose (a bug cannot hide on both sides).
"""
import logging
import os
import secrets
import time

from flask import Flask, g, request

from .core import Sandbox

log = logging.getLogger("whatsapp_sandbox")

DEFAULTS = {
    "PUBLIC_URL": "http://127.0.0.1:5060",
    "CONTROL_API": True,
    "LOG_REQUESTS": True,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "SESSION_COOKIE_NAME": "whatsapp_sandbox_session",
    # webhooks
    "WEBHOOK_DELAY_SCALE": 1.0,  # multiplies every retry delay (tests use a small value)
    "WEBHOOK_TIMEOUT": 30.0,
    # WAHA
    "WAHA_API_KEY": "waha-sandbox-key",  # plain, or "sha512:<hex>"
    "WAHA_SINGLE_SESSION": False,  # WAHA Core before 2026.6.1: only the session "default"
    "WAHA_ENGINE": "WEBJS",  # or "NOWEB", "GOWS"
    "WAHA_NOWEB_STORE_OFF": False,  # NOWEB: the store is off for every session, whatever its config says
    "WAHA_STARTING_SECONDS": 1.0,
    "WAHA_QR_FIRST_SECONDS": 60.0,
    "WAHA_QR_NEXT_SECONDS": 20.0,
    "WAHA_QR_CODES": 6,
    "WAHA_WAIT_SECONDS": 10.0,  # how long status-waiting routes wait before 422
    "WAHA_FILES_LIFETIME": 180.0,  # 0 = keep forever
    # Evolution API
    "EVOLUTION_API_KEY": "evolution-sandbox-key",
    "EVOLUTION_QR_SECONDS": 45.0,
    "EVOLUTION_QR_LIMIT": 30,
    "EVOLUTION_CONNECT_SECONDS": 0.5,
    "EVOLUTION_EXPOSE_TOKEN": True,
    "EVOLUTION_VERSION": "2.3.7",  # 2.3.6 (raw @lid keys) | 2.3.7 (swapped) | 2.4.0 (inverted, licence gate)
    "EVOLUTION_DOUBLE_UPSERTS": True,  # 2.3.7+ dropped the upsert de-dup: every messages.upsert comes twice
    "EVOLUTION_LICENSE_ACTIVE": False,  # 2.4.0: business endpoints answer 503 LICENSE_REQUIRED until activated
    "EVOLUTION_HISTORY_SYNC_SECONDS": 2.0,  # after a first link, the phone's history reaches the store this late
    "EVOLUTION_MEDIA_LIFETIME": 0.0,  # seconds getBase64FromMediaMessage can still fetch a file (0 = forever)
    "EVOLUTION_KEEP_DELETED": True,  # DATABASE_DELETE_MESSAGE=true: a revoked row stays, key.deleted = true
    "EVOLUTION_MEDIA_FAILURES": 0,  # the next N media downloads fail as WhatsApp's CDN does (AggregateError)
    # Cloud API (Graph)
    "GRAPH_ACCESS_TOKEN": "graph-sandbox-token",
    "GRAPH_APP_SECRET": "graph-sandbox-app-secret",
    "GRAPH_WEBHOOK_URL": None,
    "GRAPH_API_VERSION": "v21.0",
    "GRAPH_SEED_NUMBERS": "+442079460004=100000000000004",  # "e164=phone_number_id,…" registered on reset
}
LOGGED_PREFIXES = {"/waha/": "waha", "/evolution/": "evolution", "/graph/": "graph"}
RUNTIME_KEYS = {k for k in DEFAULTS if k.startswith(("WEBHOOK_", "WAHA_", "EVOLUTION_", "GRAPH_"))}


def _env_config() -> dict:
    env = {}
    for key in DEFAULTS:
        value = os.environ.get("WHATSAPP_SANDBOX_" + key)
        if value is None:
            continue
        default = DEFAULTS[key]
        if isinstance(default, bool):
            env[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, float):
            env[key] = float(value)
        elif isinstance(default, int):
            env[key] = int(value)
        else:
            env[key] = value
    return env


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.update(_env_config())
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.compact = True

    sb = app.extensions["whatsapp_sandbox"] = Sandbox(app)

    from . import control, pages  # noqa: F401
    from .evolution import EvolutionFacade
    from .evolution import routes as evolution_routes
    from .graph import GraphFacade
    from .graph import routes as graph_routes
    from .waha import WahaFacade
    from .waha import routes as waha_routes

    sb.facades += [WahaFacade(sb), EvolutionFacade(sb), GraphFacade(sb)]
    app.register_blueprint(waha_routes.bp)
    app.register_blueprint(evolution_routes.bp)
    app.register_blueprint(graph_routes.bp)
    app.register_blueprint(pages.bp)
    if app.config["CONTROL_API"]:
        app.register_blueprint(control.bp)
    _install_request_log(app)
    sb.start()
    return app


def _facade_of(path: str) -> str | None:
    return next((name for prefix, name in LOGGED_PREFIXES.items() if path.startswith(prefix)), None)


def _query_without_secrets() -> str:
    return "&".join(f"{k}={v}" for k, v in request.args.items(multi=True) if k.lower() != "x-api-key")


def _small_json():
    """The request's JSON body when it is small (media uploads are left out of the log)."""
    if not request.is_json or (request.content_length or 0) > 16_384:
        return None
    return request.get_json(silent=True)


def _install_request_log(app: Flask) -> None:
    @app.before_request
    def _start_clock():
        g.t0 = time.perf_counter()

    @app.after_request
    def _log(resp):
        facade = _facade_of(request.path)
        if facade is None:
            return resp
        sb = app.extensions["whatsapp_sandbox"]
        sb.log_request({
            "time": time.time(), "facade": facade, "method": request.method, "path": request.path,
            "query": _query_without_secrets(), "status": resp.status_code, "json": _small_json(),
            "duration_ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 2),
        })
        if app.config["LOG_REQUESTS"]:
            log.info("%s %s %s", request.method, request.path, resp.status_code)
        return resp
