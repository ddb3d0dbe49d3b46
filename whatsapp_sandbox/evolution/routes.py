"""Evolution API v2 under /evolution: guard order (instance exists → name in use → apikey),
instances, connect / QR / pairing code, webhook set/find, sending, base64 media and findMessages,
with Evolution's error envelope."""
import base64
import re
import time
from http import HTTPStatus

from flask import Blueprint, current_app, jsonify, request

from ..core import sandbox
from ..messaging import send as send_message
from ..world import Media, WorldError
from . import render
from .facade import CONFIG_EVENTS

bp = Blueprint("evolution", __name__, url_prefix="/evolution")
INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
NO_INSTANCE = {("instance", "create"), ("instance", "fetchInstances")}
INSTANCE_PATH = re.compile(r"^/evolution/([A-Za-z]+)/([A-Za-z0-9]+)(?:/([^/]+))?/?$")


class EvoError(Exception):
    def __init__(self, status: int, message):
        super().__init__(str(message))
        self.status, self.message = status, message


@bp.errorhandler(EvoError)
def _evo_error(exc):
    return jsonify({"status": exc.status, "error": HTTPStatus(exc.status).phrase,
                    "response": {"message": exc.message}}), exc.status


@bp.errorhandler(WorldError)
def _world_error(exc):
    return _evo_error(EvoError(exc.status, [exc.message]))


def _facade():
    return sandbox().facade("evolution")


@bp.before_request
def _guard():
    sb = sandbox()
    if sb.api_down.get("evolution"):
        return jsonify({"status": sb.api_down["evolution"], "error": "Service Unavailable",
                        "response": {"message": ["sandbox outage"]}}), sb.api_down["evolution"]
    match = INSTANCE_PATH.match(request.path)
    if request.path in ("/evolution", "/evolution/") or match is None:
        return None
    controller, action, name = match.groups()
    with sb.world.lock:
        instances = sb.world.evo_instances
        if (controller, action) not in NO_INSTANCE and name is not None and name not in instances:
            raise EvoError(404, [f'The "{name}" instance does not exist'])
        if (controller, action) == ("instance", "create"):
            body = request.get_json(silent=True) or {}
            if isinstance(body, dict) and body.get("instanceName") in instances:
                raise EvoError(403, [f'This name "{body["instanceName"]}" is already in use.'])
        key = request.headers.get("apikey")
        if not key:
            raise EvoError(401, "Unauthorized")
        if key == current_app.config["EVOLUTION_API_KEY"]:
            return None
        if name is not None and name in instances and instances[name].token == key:
            return None
        if (controller, action) == ("instance", "fetchInstances") and any(i.token == key for i in instances.values()):
            return None
        raise EvoError(401, "Unauthorized")


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise EvoError(400, ["Send a JSON object body"])
    return body


def _instance(name):
    return sandbox().world.evo_instances[name]


@bp.get("/")
def welcome():
    return jsonify({"status": 200, "message": "Welcome to the Evolution API, it is working!", "version": "2.3.7",
                    "clientName": "evolution_exchange", "manager": f"{sandbox().public_url}/evolution/manager",
                    "documentation": "https://doc.evolution-api.com", "whatsappWebVersion": "2.3000.1030614401"})


# --- instances ----------------------------------------------------------------------------------
def _webhook_from(spec, instance_id=None, existing=None) -> dict:
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise EvoError(400, [['webhook requires property "url"']])
    events = spec.get("events")
    if not isinstance(events, list):  # the real server crashes on events.length → 400
        raise EvoError(400, ["Cannot read properties of undefined (reading 'length')"])
    bad = [e for e in events if e not in CONFIG_EVENTS]
    if bad:
        raise EvoError(400, [[f"webhook.events[{events.index(bad[0])}] is not one of enum values: {', '.join(CONFIG_EVENTS)}"]])
    enabled = spec.get("enabled", True) is not False
    now = render.iso(time.time())
    return {"id": (existing or {}).get("id") or ("c" + str(int(time.time() * 1000))), "url": spec["url"],
            "headers": spec.get("headers") or {}, "enabled": enabled,
            "events": (list(events) or list(CONFIG_EVENTS)) if enabled else [],
            "webhookByEvents": bool(spec.get("byEvents")), "webhookBase64": bool(spec.get("base64")),
            "createdAt": (existing or {}).get("createdAt") or now, "updatedAt": now, "instanceId": instance_id}


@bp.post("/instance/create")
def create():
    sb, body = sandbox(), _body()
    name = body.get("instanceName")
    if not isinstance(name, str) or not name:
        raise EvoError(400, [['instance requires property "instanceName"']])
    if body.get("integration") not in INTEGRATIONS:
        raise EvoError(400, ["Invalid integration"])
    settings = {k: bool(body.get(k, False)) for k in ("rejectCall", "groupsIgnore", "alwaysOnline",
                                                      "readMessages", "readStatus", "syncFullHistory")}
    settings.update(msgCall=body.get("msgCall", ""), wavoipToken=body.get("wavoipToken", ""))
    webhook = _webhook_from(body["webhook"]) if body.get("webhook") is not None else None
    with sb.world.lock:
        facade = _facade()
        instance = facade.create(name, body["integration"], body.get("token"), webhook, settings)
        if webhook:
            webhook["instanceId"] = instance.id
        if body.get("number"):
            instance.pairing_number = str(body["number"])
        if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
            facade.connect(instance)
        out = {"instance": {"instanceName": name, "instanceId": instance.id, "integration": instance.integration,
                            "webhookWaBusiness": None, "accessTokenWaBusiness": "", "status": instance.state},
               "hash": instance.token,
               "webhook": {"webhookUrl": webhook["url"], "webhookHeaders": webhook["headers"],
                           "webhookByEvents": webhook["webhookByEvents"],
                           "webhookBase64": webhook["webhookBase64"]} if webhook else {},
               "websocket": {}, "rabbitmq": {}, "nats": {}, "sqs": {}, "settings": settings}
        if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
            out["qrcode"] = facade.qr_object(instance)
        return jsonify(out), 201


@bp.get("/instance/connect/<name>")
def connect(name):
    sb = sandbox()
    with sb.world.lock:
        instance = _instance(name)
        if instance.state == "open":
            return jsonify({"instance": {"instanceName": name, "state": "open"}})
        _facade().connect(instance, request.args.get("number"))
        if instance.state == "open" or (instance.auth_number and instance.qr is None):
            return jsonify({"instance": {"instanceName": name, "state": instance.state}})
        return jsonify(_facade().qr_object(instance))


@bp.get("/instance/connectionState/<name>")
def connection_state(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify({"instance": {"instanceName": name, "state": _instance(name).state}})


@bp.get("/instance/fetchInstances")
def fetch_instances():
    sb = sandbox()
    key = request.headers.get("apikey")
    wanted = {k: request.args.get(k) for k in ("instanceName", "instanceId", "number") if request.args.get(k)}
    with sb.world.lock:
        rows = list(sb.world.evo_instances.values())
        if key != current_app.config["EVOLUTION_API_KEY"]:
            rows = [i for i in rows if i.token == key]
        if "instanceName" in wanted and not any(i.name == wanted["instanceName"] for i in rows):
            raise EvoError(404, [f'Instance "{wanted["instanceName"]}" not found'])
        rows = [i for i in rows if wanted.get("instanceName", i.name) == i.name
                and wanted.get("instanceId", i.id) == i.id]
        return jsonify([_row(sb, i) for i in rows])


def _row(sb, instance) -> dict:
    owner = sb.world.phones.get(instance.auth_number) if instance.auth_number else None
    return {"id": instance.id, "name": instance.name, "connectionStatus": instance.state,
            "ownerJid": render.phone_jid(owner) if owner else None, "profileName": owner.name if owner else None,
            "profilePicUrl": None, "integration": instance.integration, "number": instance.pairing_number,
            "businessId": None, "token": instance.token, "clientName": "evolution_exchange",
            "disconnectionReasonCode": instance.disconnection.get("disconnectionReasonCode"),
            "disconnectionObject": instance.disconnection.get("disconnectionObject"),
            "disconnectionAt": instance.disconnection.get("disconnectionAt"),
            "createdAt": render.iso(instance.created_at), "updatedAt": render.iso(instance.updated_at),
            "Chatwoot": None, "Proxy": None, "Rabbitmq": None, "Nats": None, "Sqs": None, "Websocket": None,
            "Setting": dict(instance.settings, instanceId=instance.id),
            "_count": {"Message": sum(1 for m in sb.world.messages if instance.auth_number and m.involves(instance.auth_number)),
                       "Contact": 0, "Chat": 0}}


@bp.route("/instance/restart/<name>", methods=["POST", "PUT"])
def restart(name):
    sb = sandbox()
    with sb.world.lock:
        instance = _instance(name)
        if instance.state == "close":
            return jsonify({"error": True, "message": "[object Object]"})
        instance.state = "close"
        instance.qr = None  # a new socket: a new QR (and pairing code, when a number was given)
        _facade().connect(instance)
        if instance.auth_number:
            return jsonify({"instance": {"instanceName": name, "state": instance.state}})
        return jsonify(_facade().qr_object(instance))


@bp.delete("/instance/logout/<name>")
def logout(name):
    sb = sandbox()
    with sb.world.lock:
        instance = _instance(name)
        if instance.state == "close":
            raise EvoError(400, [f'The "{name}" instance is not connected'])
        _facade().close(instance, 401)
        return jsonify({"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}})


@bp.delete("/instance/delete/<name>")
def delete(name):
    sb = sandbox()
    with sb.world.lock:
        _facade().delete(_instance(name))
        return jsonify({"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}})


# --- webhook and settings -------------------------------------------------------------------------
@bp.post("/webhook/set/<name>")
def webhook_set(name):
    sb, body = sandbox(), _body()
    if not isinstance(body.get("webhook"), dict):
        raise EvoError(400, [['instance requires property "webhook"']])
    spec = body["webhook"]
    if not isinstance(spec.get("enabled"), bool):
        raise EvoError(400, [['webhook requires property "enabled"']])
    with sb.world.lock:
        instance = _instance(name)
        instance.webhook = _webhook_from(spec, instance.id, instance.webhook)
        return jsonify(instance.webhook), 201


@bp.get("/webhook/find/<name>")
def webhook_find(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(_instance(name).webhook)


@bp.post("/settings/set/<name>")
def settings_set(name):
    sb, body = sandbox(), _body()
    with sb.world.lock:
        instance = _instance(name)
        instance.settings.update({k: v for k, v in body.items() if k in instance.settings})
        return jsonify({"settings": {"instanceName": name, "settings": instance.settings}}), 201


@bp.get("/settings/find/<name>")
def settings_find(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(_instance(name).settings)


# --- sending ---------------------------------------------------------------------------------------
def _open_owner(instance) -> str:
    if instance.state != "open" or not instance.auth_number:
        raise EvoError(400, ["Error: Connection Closed"])
    return instance.auth_number


def _recipient(sb, number) -> str:
    if not isinstance(number, str) or not number:
        raise EvoError(400, [['instance requires property "number"']])
    if number.endswith("@lid"):
        phone = sb.world.phone_by_lid(number[:-4])
        if phone is None:
            raise EvoError(400, [{"jid": number, "exists": False, "number": number}])
        return phone.e164
    digits = re.sub(r"[\s+()\-]", "", number.split("@")[0])
    if not digits.isdigit() or sb.world.phone_by_digits(digits) is None:
        raise EvoError(400, [{"jid": f"{digits}@s.whatsapp.net", "exists": False, "number": number}])
    return "+" + digits


def _quoted(body):
    quoted = body.get("quoted")
    if isinstance(quoted, dict) and isinstance(quoted.get("key"), dict):
        return quoted["key"].get("id")
    return None


@bp.post("/message/sendText/<name>")
def send_text(name):
    sb, body = sandbox(), _body()
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise EvoError(400, ["Text is required"])
    with sb.world.lock:
        instance = _instance(name)
        owner = _open_owner(instance)
        msg = send_message(sb, owner, _recipient(sb, body.get("number")), text, reply_to=_quoted(body),
                           source="api", via=("evolution", name))
        return jsonify(render.send_data(sb.world, instance, msg)), 201


@bp.post("/message/sendMedia/<name>")
def send_media(name):
    sb, body = sandbox(), _body()
    mediatype, raw = body.get("mediatype"), body.get("media")
    if mediatype not in ("image", "video", "audio", "document"):
        raise EvoError(400, [['mediatype must be one of image, video, audio, document']])
    try:
        data = base64.b64decode(raw or "", validate=True)
    except ValueError:
        data = b""
    if not data:
        raise EvoError(400, ["Owned media must be a url or base64"])
    if mediatype == "document" and not body.get("fileName"):
        raise EvoError(400, ["For base64 the file name must be informed."])
    mimetype = body.get("mimetype") or {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg",
                                        "document": "application/octet-stream"}[mediatype]
    media = Media(filename=body.get("fileName"), mimetype=mimetype, data=data, voice=False)
    with sb.world.lock:
        instance = _instance(name)
        owner = _open_owner(instance)
        msg = send_message(sb, owner, _recipient(sb, body.get("number")), body.get("caption") or "",
                           reply_to=_quoted(body), media=media, source="api", via=("evolution", name))
        return jsonify(render.send_data(sb.world, instance, msg)), 201


# --- media and history --------------------------------------------------------------------------------
@bp.post("/chat/getBase64FromMediaMessage/<name>")
def get_base64(name):
    sb, body = sandbox(), _body()
    message = body.get("message")
    key_id = ((message or {}).get("key") or {}).get("id") if isinstance(message, dict) else None
    with sb.world.lock:
        instance = _instance(name)
        msg = sb.world.by_wa_id.get(key_id or "")
        if msg is None or not instance.auth_number or not msg.involves(instance.auth_number) or msg.revoked:
            raise EvoError(400, ["Message not found"])
        if msg.media is None:
            raise EvoError(400, ["The message is not of the media type"])
        message_type, _ = render.content(sb.world, msg, instance.auth_number)
        ext = msg.media.mimetype.split(";")[0].split("/")[-1]
        return jsonify({"mediaType": message_type, "fileName": msg.media.filename or f"{msg.wa_id}.{ext}",
                        "caption": msg.text or None,
                        "size": {"fileLength": render.long(len(msg.media.data)), "height": 640, "width": 480},
                        "mimetype": msg.media.mimetype, "base64": base64.b64encode(msg.media.data).decode(),
                        "buffer": None}), 201


def _seconds(value):
    from datetime import datetime
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise EvoError(400, [f"Invalid date: {value}"])


def _int(body, name, default):
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise EvoError(400, [[f"instance.{name} must be a positive integer"]])
    return value


@bp.post("/chat/findMessages/<name>")
def find_messages(name):
    sb = sandbox()
    body = request.get_json(silent=True) or {}
    where = body.get("where") or {}
    key = where.get("key") or {}
    page, per_page = _int(body, "page", 1), _int(body, "offset", 50)
    stamp = where.get("messageTimestamp") or {}
    window = None
    if stamp.get("gte") is not None and stamp.get("lte") is not None:  # both or the range is ignored
        window = (_seconds(stamp["gte"]), _seconds(stamp["lte"]))
    facade = _facade()
    with sb.world.lock:
        instance = _instance(name)
        owner = instance.auth_number
        rows = []
        for msg in (sb.world.chat_messages(owner) if owner else []):
            if msg.revoked:
                continue
            row = render.stored_row(sb.world, instance, msg, facade.row_id(msg.wa_id))
            if not _matches(row, key, where, window):
                continue
            rows.append(row)
        rows.sort(key=lambda r: r["messageTimestamp"], reverse=True)
        total = len(rows)
        records = rows[(page - 1) * per_page: page * per_page]
        return jsonify({"messages": {"total": total, "pages": (total + per_page - 1) // per_page,
                                     "currentPage": page, "records": records}})


def _matches(row, key, where, window) -> bool:
    stored = row["key"]
    # 2.3.7: an OR of remoteJid = X and remoteJidAlt = Y; a missing side matches everything.
    if key.get("remoteJid") and key.get("remoteJidAlt"):
        if stored.get("remoteJid") != key["remoteJid"] and stored.get("remoteJidAlt") != key["remoteJidAlt"]:
            return False
    if key.get("id") and stored["id"] != key["id"]:
        return False
    if key.get("fromMe") is True and not stored["fromMe"]:
        return False  # fromMe:false is ignored
    if where.get("id") and row["id"] != where["id"]:
        return False
    if where.get("messageType") and row["messageType"] != where["messageType"]:
        return False
    if where.get("source") and row["source"] != where["source"]:
        return False
    if window and not (window[0] <= row["messageTimestamp"] <= window[1]):
        return False
    return True


@bp.post("/chat/findChats/<name>")
def find_chats(name):
    sb = sandbox()
    body = request.get_json(silent=True) or {}
    with sb.world.lock:
        instance = _instance(name)
        owner = instance.auth_number
        latest = {}
        for msg in (sb.world.chat_messages(owner) if owner else []):
            latest[msg.party(owner)] = msg
        rows = []
        for number, msg in sorted(latest.items(), key=lambda kv: kv[1].seq, reverse=True):
            peer = sb.world.phones[number]
            rows.append({"id": _facade().row_id("chat:" + number), "remoteJid": render.chat_jid(peer),
                         "pushName": peer.name, "profilePicUrl": None, "updatedAt": render.iso(msg.timestamp),
                         "lastMessage": render.stored_row(sb.world, instance, msg, _facade().row_id(msg.wa_id)),
                         "unreadCount": 0, "isSaved": True})
        skip, take = int(body.get("skip") or 0), body.get("take")
        return jsonify(rows[skip: skip + take if take else None])


@bp.post("/chat/whatsappNumbers/<name>")
def whatsapp_numbers(name):
    sb, body = sandbox(), _body()
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not numbers:
        raise EvoError(400, [['instance requires property "numbers"']])
    out = []
    with sb.world.lock:
        _instance(name)
        for number in numbers:
            if str(number).endswith("@lid"):
                out.append({"jid": number, "exists": True, "number": number, "lid": "lid"})
                continue
            digits = re.sub(r"\D", "", str(number))
            phone = sb.world.phone_by_digits(digits)
            out.append({"jid": f"{digits}@s.whatsapp.net", "exists": phone is not None, "number": str(number),
                        "name": phone.name if phone else None})
    return jsonify(out)


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE"])
def not_found(anything):
    raise EvoError(404, [f"Cannot {request.method} /{anything}"])
