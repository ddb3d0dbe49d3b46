"""WAHA HTTP API under /waha: auth, sessions, QR / pairing code, me, LIDs, chats and history,
sending, media files — status codes and NestJS error bodies as waha.md describes them."""
import base64
import hashlib
import hmac
import re
import time
from http import HTTPStatus
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, jsonify, request

from ..core import sandbox
from ..messaging import send as send_message
from ..world import Media, WorldError
from . import render
from .facade import EVENTS

bp = Blueprint("waha", __name__, url_prefix="/waha")
SESSION_NAME = re.compile(r"^[a-zA-Z0-9_-]{0,54}$")
ACKS = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}
CONFIG_KEYS = ("metadata", "webhooks", "proxy", "debug", "ignore", "client", "noweb", "webjs", "gows")
STARTED = time.time()


class WahaError(Exception):
    def __init__(self, status: int, body):
        super().__init__(str(body))
        self.status, self.body = status, body


def nest(status: int, message) -> WahaError:
    return WahaError(status, {"message": message, "error": HTTPStatus(status).phrase, "statusCode": status})


def status_mismatch(session, expected) -> WahaError:
    return WahaError(422, {"error": "Session status is not as expected. Try again later or restart the session",
                           "session": session.name, "status": session.status, "expected": expected})


@bp.errorhandler(WahaError)
def _waha_error(exc):
    return jsonify(exc.body), exc.status


@bp.errorhandler(WorldError)
def _world_error(exc):
    return jsonify({"message": exc.message, "error": HTTPStatus(exc.status).phrase, "statusCode": exc.status}), exc.status


# --- auth and outage ----------------------------------------------------------------------------
def key_matches(presented: str, configured: str) -> bool:
    if configured.startswith("sha512:"):
        digest = hashlib.sha512(presented.encode()).hexdigest()
        return hmac.compare_digest(digest, configured[len("sha512:"):].lower())
    return hmac.compare_digest(presented.encode(), configured.encode())


@bp.before_request
def _guard():
    sb = sandbox()
    if sb.api_down.get("waha"):
        return jsonify({"message": "Service Unavailable (sandbox outage)", "statusCode": 503}), sb.api_down["waha"]
    path = request.path[len("/waha"):]
    if not (path.startswith("/api/") or path == "/health"):
        return None
    presented = request.headers.get("X-Api-Key") or request.args.get("x-api-key") or ""
    if not presented or not key_matches(presented, current_app.config["WAHA_API_KEY"]):
        return jsonify({"message": "Unauthorized", "statusCode": 401}), 401
    return None


def _body() -> dict:
    body = request.get_json(silent=True)
    if body is None and request.data:
        raise nest(400, ["Body must be JSON"])
    if body is not None and not isinstance(body, dict):
        raise nest(400, ["Body must be a JSON object"])
    return body or {}


# --- sessions ---------------------------------------------------------------------------------
def _single() -> bool:
    return current_app.config["WAHA_SINGLE_SESSION"]


def _only_default(name: str):
    if _single() and name != "default":
        encoded = base64.b64encode(name.encode()).decode()
        raise nest(422, f"WAHA Core support only 'default' session. You tried to access '{name}' session "
                        f"(base64: {encoded}). If you want to run more then one WhatsApp account - please get "
                        "WAHA PLUS version.")


def _session(name: str):
    _only_default(name)
    session = sandbox().world.waha_sessions.get(name)
    if session is None:
        raise nest(404, "Session not found")
    return session


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
    if _single():
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
    sb, body = sandbox(), _body()
    name = body.get("name")
    if name is None:
        from ..ids import ulid_lower
        name = "default" if _single() else "session_" + ulid_lower()
    if not isinstance(name, str) or not SESSION_NAME.match(name) or not name:
        raise nest(400, ["name must contain only letters, digits, '_' and '-' (at most 54)"])
    config = _validate_config(body.get("config"))
    with sb.world.lock:
        _only_default(name)
        if name in sb.world.waha_sessions:
            raise nest(422, f"Session '{name}' already exists. Use PUT to update it.")
        # `start` omitted means "not started" (the code's reading; the docs say true): send it explicitly.
        session = _facade().create(name, config, start=body.get("start") is True)
        return jsonify(render.session_dto(session)), 201


@bp.get("/api/sessions/<name>")
def get_session(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(render.session_info(sb, _session(name), with_engine=True))


@bp.put("/api/sessions/<name>")
def update_session(name):
    sb, body = sandbox(), _body()
    config = _validate_config(body.get("config"))
    with sb.world.lock:
        session = _session(name)
        session.config = config
        if session.running:  # restarted with the new config
            _facade().stop(session)
            _facade().start(session)
        return jsonify(render.session_dto(session))


@bp.delete("/api/sessions/<name>")
def delete_session(name):
    sb = sandbox()
    with sb.world.lock:
        _only_default(name)
        session = sb.world.waha_sessions.get(name)
        if session is not None:
            _facade().delete(session)
    return Response(status=200)


@bp.get("/api/sessions/<name>/me")
def me(name):
    sb = sandbox()
    with sb.world.lock:
        info = render.me_info(sb.world, _session(name))
    if info is None:  # NestJS answers a null return with an empty 200 body
        return Response(status=200)
    return jsonify(info)


@bp.post("/api/sessions/<name>/start")
def start_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = _session(name)
        if session.running:
            raise nest(422, f"Session '{name}' is already started.")
        _facade().start(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/stop")
def stop_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = _session(name)
        _facade().stop(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/restart")
def restart_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = _session(name)
        _facade().stop(session)
        _facade().start(session)
        return jsonify(render.session_dto(session)), 201


@bp.post("/api/sessions/<name>/logout")
def logout_session(name):
    sb = sandbox()
    with sb.world.lock:
        session = _session(name)
        _facade().logout(session)
        return jsonify(render.session_dto(session)), 201


def _facade():
    return next(f for f in sandbox().facades if f.name == "waha")


# --- status-waiting routes ------------------------------------------------------------------------
def _wait_for(name: str, expected: list):
    """Like WAHA: poll every 500 ms for up to WAHA_WAIT_SECONDS, then 422."""
    sb = sandbox()
    deadline = time.time() + current_app.config["WAHA_WAIT_SECONDS"]
    while True:
        with sb.world.lock:
            _only_default(name)
            session = sb.world.waha_sessions.get(name)
            if session is None:
                raise WahaError(422, {"error": f'Session "{name}" does not exist', "session": name})
            if session.status in expected:
                return
            if time.time() >= deadline:
                raise status_mismatch(session, expected)
        time.sleep(0.5)


def _session_in(name: str, expected: list):
    """Call with world.lock held, after _wait_for (which must not run under the lock)."""
    session = sandbox().world.waha_sessions.get(name)
    if session is None or session.status not in expected:
        if session is None:
            raise WahaError(422, {"error": f'Session "{name}" does not exist', "session": name})
        raise status_mismatch(session, expected)
    return session


@bp.get("/api/<name>/auth/qr")
def qr(name):
    sb = sandbox()
    from .. import qr as qrcode
    _wait_for(name, ["SCAN_QR_CODE"])
    with sb.world.lock:
        session = _session_in(name, ["SCAN_QR_CODE"])
        value = session.qr
    fmt = request.args.get("format", "image")
    if fmt == "raw":
        return jsonify({"value": value})
    png = qrcode.png_bytes(value)
    if request.headers.get("Accept") == "application/json":
        return jsonify({"mimetype": "image/png", "data": base64.b64encode(png).decode()})
    return Response(png, mimetype="image/png")


@bp.post("/api/<name>/auth/request-code")
def request_code(name):
    sb, body = sandbox(), _body()
    phone = str(body.get("phoneNumber") or "")
    if not phone.isdigit():
        raise nest(400, ["phoneNumber must be the international number, digits only"])
    with sb.world.lock:
        session = _session(name)
        if current_app.config["WAHA_ENGINE"] == "NOWEB" and body.get("method"):
            raise nest(422, "method must be empty for web pairing")
        if session.status != "SCAN_QR_CODE":
            raise nest(422, f"Can request code only in SCAN_QR_CODE status. The current status is {session.status}")
        from ..ids import pairing_code
        session.pairing = {"code": pairing_code(), "phone": "+" + phone}
        return jsonify({"code": session.pairing["code"]}), 201


# --- LIDs -------------------------------------------------------------------------------------------
def _lid_row(phone) -> dict:
    return {"lid": f"{phone.lid}@lid", "pn": f"{phone.digits}@c.us" if phone.lid_resolvable else None}


@bp.get("/api/<name>/lids")
def lids(name):
    sb = sandbox()
    limit, offset = _int_arg("limit", 100), _int_arg("offset", 0)
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        rows = sorted((_lid_row(p) for p in sb.world.phones.values()
                       if p.e164 != session.auth_number and p.lid_resolvable), key=lambda r: r["lid"])
        return jsonify(rows[offset:offset + limit])


@bp.get("/api/<name>/lids/count")
def lids_count(name):
    sb = sandbox()
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        return jsonify({"count": sum(1 for p in sb.world.phones.values()
                                     if p.e164 != session.auth_number and p.lid_resolvable)})


@bp.get("/api/<name>/lids/pn/<path:number>")
def lid_by_phone(name, number):
    sb = sandbox()
    number = unquote(number)
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        _session_in(name, ["WORKING"])
        if number.endswith("@lid"):
            return jsonify({"lid": number, "pn": None})
        digits = number.split("@")[0].lstrip("+")
        phone = sb.world.phone_by_digits(digits)
        return jsonify({"lid": f"{phone.lid}@lid" if phone else None, "pn": f"{digits}@c.us"})


@bp.get("/api/<name>/lids/<path:lid>")
def lid_lookup(name, lid):
    sb = sandbox()
    lid = unquote(lid)
    if lid.isdigit():
        lid += "@lid"
    if not lid.endswith("@lid"):
        raise nest(422, "Invalid LID - it must end with @lid")
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        _session_in(name, ["WORKING"])
        phone = sb.world.phone_by_lid(lid[:-4])
        pn = f"{phone.digits}@c.us" if phone and phone.lid_resolvable else None
        return jsonify({"lid": lid, "pn": pn})


# --- chats and history --------------------------------------------------------------------------------
def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise nest(400, [f"{name} must be an integer number"])
    if value < 0:
        raise nest(400, [f"{name} must not be less than 0"])
    return value


def _bool_arg(name: str, default):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() not in ("true", "false"):
        raise nest(400, [f"{name} must be a boolean value"])
    return raw.lower() == "true"


def _peer(world, chat: str, merge: bool = True):
    """Resolve a chat id to the other person; with merge, '@c.us' and '@lid' of one person agree."""
    chat = unquote(chat)
    local, _, server = chat.partition("@")
    if server == "lid":
        phone = world.phone_by_lid(local)
        if phone and (merge or phone.lid_only):
            return phone
        return None
    if server in ("", "c.us", "s.whatsapp.net"):
        phone = world.phone_by_digits(local.split(":")[0])
        if phone and (merge or not phone.lid_only):
            return phone
    return None


@bp.get("/api/<name>/chats")
def chats(name):
    sb = sandbox()
    limit, offset = _int_arg("limit", 0) or None, _int_arg("offset", 0)
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        rows = _chat_rows(sb, session)
        if request.args.get("sortOrder", "desc") == "asc":
            rows.reverse()
        rows = rows[offset:offset + limit if limit else None]
        return jsonify([{"id": r["id"], "name": r["name"], "isGroup": False, "unreadCount": 0,
                         "timestamp": r["last"].timestamp, "archived": False, "pinned": False} for r in rows])


@bp.get("/api/<name>/chats/overview")
def chats_overview(name):
    sb = sandbox()
    limit, offset = _int_arg("limit", 20), _int_arg("offset", 0)
    wanted = set(request.args.getlist("ids"))
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        rows = [r for r in _chat_rows(sb, session) if not wanted or r["id"] in wanted]
        return jsonify([{"id": r["id"], "name": r["name"], "picture": None,
                         "lastMessage": render.wa_message(sb, session, r["last"], download_media=False),
                         "_chat": {"id": r["id"]}} for r in rows[offset:offset + limit]])


def _chat_rows(sb, session) -> list:
    latest = {}
    for msg in sb.world.chat_messages(session.auth_number):
        latest[msg.party(session.auth_number)] = msg
    rows = [{"id": render.chat_id(sb.world.phones[p]), "name": sb.world.phones[p].name, "last": m}
            for p, m in latest.items()]
    rows.sort(key=lambda r: (r["last"].timestamp, r["last"].seq), reverse=True)
    return rows


@bp.get("/api/<name>/chats/<path:chat>/messages")
def history(name, chat):
    sb = sandbox()
    limit, offset = _int_arg("limit", 10), _int_arg("offset", 0)
    download = _bool_arg("downloadMedia", True)
    merge = _bool_arg("merge", True)
    order = request.args.get("sortOrder", "desc")
    if order not in ("asc", "desc"):
        raise nest(400, ["sortOrder must be one of the following values: desc, asc"])
    if request.args.get("sortBy", "timestamp") not in ("timestamp", "messageTimestamp"):
        raise nest(400, ["sortBy must be one of the following values: timestamp, messageTimestamp"])
    gte, lte = _int_arg("filter.timestamp.gte", -1), _int_arg("filter.timestamp.lte", -1)
    from_me = _bool_arg("filter.fromMe", None)
    ack = request.args.get("filter.ack")
    if ack is not None and ack not in ACKS:
        raise nest(400, f"Invalid ack: '{ack}'")
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        owner = session.auth_number
        if unquote(chat) == "all":
            if current_app.config["WAHA_ENGINE"] == "WEBJS":
                raise nest(501, "The method is not implemented by 'WEBJS' engine. Check the docs and try another engine.")
            found = sb.world.chat_messages(owner)
        else:
            peer = _peer(sb.world, chat, merge)
            found = sb.world.chat_messages(owner, peer.e164) if peer else []
        found = [m for m in found
                 if (gte < 0 or m.timestamp >= gte) and (lte < 0 or m.timestamp <= lte)
                 and (from_me is None or (m.sender == owner) == from_me)
                 and (ack is None or _ack_of(m, owner) == ACKS[ack])]
        found.sort(key=lambda m: (m.timestamp, m.seq), reverse=order == "desc")
        page = found[offset:offset + limit]
        return jsonify([render.wa_message(sb, session, m, download_media=download) for m in page])


def _ack_of(msg, owner) -> int:
    return msg.ack if msg.sender == owner else 2


@bp.get("/api/<name>/chats/<path:chat>/messages/<message_id>")
def one_message(name, chat, message_id):
    sb = sandbox()
    download = _bool_arg("downloadMedia", True)
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        msg = sb.world.find_message(message_id)
        peer = _peer(sb.world, chat) if unquote(chat) != "all" else None
        if msg is None or not msg.involves(session.auth_number) or (peer and msg.party(session.auth_number) != peer.e164):
            raise nest(404, "Message not found")
        return jsonify(render.wa_message(sb, session, msg, download_media=download))


# --- contacts --------------------------------------------------------------------------------------------
@bp.get("/api/contacts/check-exists")
def check_exists():
    sb = sandbox()
    name, phone = request.args.get("session", "default"), request.args.get("phone", "")
    digits = re.sub(r"\D", "", phone.split("@")[0])
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        _session_in(name, ["WORKING"])
        if sb.world.phone_by_digits(digits):
            return jsonify({"numberExists": True, "chatId": f"{digits}@c.us"})
        return jsonify({"numberExists": False})


@bp.get("/api/contacts")
@bp.get("/api/<name>/contacts/<path:contact>")
def contact(name=None, contact=None):
    sb = sandbox()
    name = name or request.args.get("session", "default")
    contact = contact or request.args.get("contactId", "")
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        _session_in(name, ["WORKING"])
        phone = _peer(sb.world, contact if "@" in contact else contact + "@c.us")
        if phone is None:
            return jsonify(None)
        return jsonify({"id": render.chat_id(phone), "number": None if phone.lid_only else phone.digits,
                        "name": phone.name, "pushname": phone.name, "shortName": phone.name.split()[0],
                        "isMe": False, "isGroup": False, "isWAContact": True, "isMyContact": not phone.lid_only,
                        "isBlocked": False})


# --- sending ------------------------------------------------------------------------------------------------
def _send(kind: str):
    sb, body = sandbox(), _body()
    name = body.get("session") or "default"
    chat = body.get("chatId")
    if not isinstance(chat, str) or not chat:
        raise nest(400, ["chatId must be a string"])
    media = None
    if kind != "text":
        if _single():
            raise nest(422, f"The feature is available only in Plus version for '{current_app.config['WAHA_ENGINE']}' engine.")
        media = _media_from(body.get("file"), voice=kind == "voice")
    text = body.get("text") if kind == "text" else body.get("caption")
    if kind == "text" and not isinstance(text, str):
        raise nest(400, ["text must be a string"])
    _wait_for(name, ["WORKING"])
    with sb.world.lock:
        session = _session_in(name, ["WORKING"])
        peer = _peer(sb.world, chat if "@" in chat else chat + "@c.us")
        if peer is None:
            digits = chat.split("@")[0]
            if not digits.isdigit() or chat.endswith("@lid"):
                raise nest(400, [f"chatId {chat!r} is not a known chat"])
            peer = sb.world.ensure_phone("+" + digits)
        msg = send_message(sb, session.auth_number, peer.e164, text or "", reply_to=body.get("reply_to"),
                           media=media, source="api", via=("waha", session.name))
        payload = render.wa_message(sb, session, msg, download_media=False)
        return jsonify(_send_response(payload, msg)), 201


def _media_from(spec, voice: bool) -> Media:
    if not isinstance(spec, dict) or not isinstance(spec.get("mimetype"), str):
        raise nest(400, ["file must be {mimetype, filename?, data}"])
    if spec.get("url"):
        raise nest(400, ["the sandbox accepts file.data (base64) only"])
    try:
        data = base64.b64decode(spec.get("data") or "", validate=True)
    except ValueError:
        raise nest(400, ["file.data must be base64"])
    if not data:
        raise nest(400, ["file.data must not be empty"])
    return Media(filename=spec.get("filename"), mimetype=spec["mimetype"], data=data, voice=voice)


def _send_response(payload: dict, msg) -> dict:
    if current_app.config["WAHA_ENGINE"] == "NOWEB":
        chat = payload["id"].split("_")[1]
        return {"key": {"remoteJid": chat.replace("@c.us", "@s.whatsapp.net"), "fromMe": True, "id": msg.wa_id},
                "messageTimestamp": msg.timestamp, "status": "PENDING",
                "message": {"conversation": msg.text} if msg.media is None else {}}
    return {"id": payload["_data"]["id"], "body": payload["body"], "type": payload["_data"]["type"],
            "timestamp": msg.timestamp, "from": payload["from"], "to": payload["to"], "fromMe": True,
            "hasMedia": payload["hasMedia"], "ack": 0}


@bp.post("/api/sendText")
def send_text():
    return _send("text")


@bp.post("/api/sendImage")
def send_image():
    return _send("image")


@bp.post("/api/sendFile")
def send_file():
    return _send("file")


@bp.post("/api/sendVoice")
def send_voice():
    return _send("voice")


# --- media files -------------------------------------------------------------------------------------------
@bp.get("/api/files/<name>/<path:filename>")
def media_file(name, filename):
    sb = sandbox()
    lifetime = current_app.config["WAHA_FILES_LIFETIME"]
    with sb.world.lock:
        entry = sb.world.waha_files.get(f"{name}/{unquote(filename)}")
        msg = sb.world.by_wa_id.get(entry[0]) if entry else None
        expired = entry is not None and lifetime and time.time() - entry[1] > lifetime
        if msg is None or msg.media is None or msg.revoked or expired:
            return jsonify({"error": {"code": 404, "key": "FILE_NOT_FOUND", "message": "File not found",
                                      "details": "File not found or no longer available"}}), 404
        data, mimetype = msg.media.data, msg.media.mimetype.split(";")[0]
    return Response(data, mimetype=mimetype)


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def not_found(anything):
    raise nest(404, f"Cannot {request.method} /{anything}")
