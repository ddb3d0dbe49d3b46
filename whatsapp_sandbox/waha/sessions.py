"""WAHA server info and sessions: create (with webhooks and metadata), get, update, delete, me,
start / stop / restart / logout."""
import re
import time

from flask import Response, current_app, jsonify, request

from ..core import sandbox
from ..ids import ulid_lower
from . import render
from .api import body_json, bp, facade, nest, only_default, session_or_404, single_session
from .facade import EVENTS

SESSION_NAME = re.compile(r"^[a-zA-Z0-9_-]{0,54}$")
CONFIG_KEYS = ("metadata", "webhooks", "proxy", "debug", "ignore", "client", "noweb", "webjs", "gows")
STARTED = time.time()


def _validate_config(config) -> dict:
    if config is None:
        return {"webhooks": [], "metadata": None, "debug": False}
    if not isinstance(config, dict):
        raise nest(400, ["config must be an object"])
    clean = {k: config[k] for k in CONFIG_KEYS if k in config}  # unknown fields are stripped (whitelist)
    metadata = clean.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict)
                                 or not all(isinstance(v, str) for v in metadata.values())):
        raise nest(400, ["config.metadata must be an object of strings"])
    webhooks = clean.get("webhooks") or []
    if not isinstance(webhooks, list):
        raise nest(400, ["config.webhooks must be an array"])
    clean["webhooks"] = [_validate_webhook(i, w) for i, w in enumerate(webhooks)]
    clean.setdefault("metadata", None)
    clean.setdefault("debug", False)
    return clean


def _validate_webhook(i: int, webhook) -> dict:
    where = f"config.webhooks.{i}"
    if not isinstance(webhook, dict):
        raise nest(400, [f"{where} must be an object"])
    url = webhook.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise nest(400, [f"{where}.url must be a URL address"])
    events = webhook.get("events")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise nest(400, [f"{where}.events must be an array"])
    unknown = [e for e in events if e != "*" and e not in EVENTS]
    if unknown:
        raise nest(400, [f"{where}.events must contain only known events; unknown: {', '.join(unknown)}"])
    hmac_cfg = webhook.get("hmac")
    if hmac_cfg is not None and (not isinstance(hmac_cfg, dict) or not isinstance(hmac_cfg.get("key"), (str, type(None)))):
        raise nest(400, [f"{where}.hmac.key must be a string"])
    retries = webhook.get("retries")
    if retries is not None:
        if not isinstance(retries, dict) or retries.get("policy") not in (None, "constant", "linear", "exponential"):
            raise nest(400, [f"{where}.retries.policy must be one of: constant, linear, exponential"])
        for field in ("delaySeconds", "attempts"):
            value = retries.get(field)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
                raise nest(400, [f"{where}.retries.{field} must be a non-negative number"])
    headers = webhook.get("customHeaders")
    if headers is not None and (not isinstance(headers, list) or not all(
            isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str) for h in headers)):
        raise nest(400, [f"{where}.customHeaders must be an array of {{name, value}}"])
    return {"url": url, "events": events, "hmac": hmac_cfg, "retries": retries, "customHeaders": headers}


@bp.get("/ping")
def ping():
    return jsonify({"message": "pong"})


@bp.get("/health")
def health():
    if single_session():
        raise nest(422, "The feature is available only in Plus version.")
    return jsonify({"status": "ok", "info": {}, "error": {}, "details": {}})


@bp.get("/api/server/version")
@bp.get("/api/version")
def version():
    return jsonify(render.environment(current_app.config))


@bp.get("/api/server/status")
def server_status():
    return jsonify({"startTimestamp": int(STARTED * 1000), "uptime": int((time.time() - STARTED) * 1000),
                    "worker": {"id": "waha"}})


@bp.get("/api/sessions")
def list_sessions():
    sb = sandbox()
    include_stopped = request.args.get("all", "").lower() == "true"
    with sb.world.lock:
        return jsonify([render.session_info(sb, s) for s in sb.world.waha_sessions.values()
                        if include_stopped or s.status != "STOPPED"])


@bp.post("/api/sessions")
def create_session():
    sb, body = sandbox(), body_json()
    name = body.get("name")
    if name is None:
        name = "default" if single_session() else "session_" + ulid_lower()
    if not isinstance(name, str) or not SESSION_NAME.match(name) or not name:
        raise nest(400, ["name must contain only letters, digits, '_' and '-' (at most 54)"])
    config = _validate_config(body.get("config"))
    with sb.world.lock:
        only_default(name)
        if name in sb.world.waha_sessions:
            raise nest(422, f"Session '{name}' already exists. Use PUT to update it.")
        # `start` omitted means "not started" (the code's reading; the docs say true): send it explicitly.
        session = facade().create(name, config, start=body.get("start") is True)
        return jsonify(render.session_dto(session)), 201


@bp.get("/api/sessions/<name>")
def get_session(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(render.session_info(sb, session_or_404(name), with_engine=True))


@bp.put("/api/sessions/<name>")
def update_session(name):
    sb, body = sandbox(), body_json()
    config = _validate_config(body.get("config"))
    with sb.world.lock:
        session = session_or_404(name)
        session.config = config
        if session.running:  # restarted with the new config
            facade().stop(session)
            facade().start(session)
        return jsonify(render.session_dto(session))


@bp.delete("/api/sessions/<name>")
def delete_session(name):
    sb = sandbox()
    with sb.world.lock:
        only_default(name)
        session = sb.world.waha_sessions.get(name)
        if session is not None:
            facade().delete(session)
    return Response(status=200)


@bp.get("/api/sessions/<name>/me")
def me(name):
    sb = sandbox()
    with sb.world.lock:
        info = render.me_info(sb.world, session_or_404(name))
    if info is None:  # NestJS answers a null return with an empty 200 body
        return Response(status=200)
    return jsonify(info)


@bp.post("/api/sessions/<name>/start")
def start_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = session_or_404(name)
        if session.running:
            raise nest(422, f"Session '{name}' is already started.")
        facade().start(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/stop")
def stop_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = session_or_404(name)
        facade().stop(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/restart")
def restart_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = session_or_404(name)
        facade().stop(session)
        facade().start(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/logout")
def logout_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = session_or_404(name)
        facade().logout(session)
        return jsonify(render.session_dto(session)), 201
