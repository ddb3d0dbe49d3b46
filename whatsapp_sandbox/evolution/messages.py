"""Evolution sending (sendText, sendMedia), media (getBase64FromMediaMessage), history
(findMessages, findChats) and number checks."""
import base64
import re
import time
from datetime import datetime

from flask import jsonify, request

from ..core import sandbox
from ..messaging import send as send_message
from ..world import Media
from . import render
from .api import EvoError, body_json, bp, facade, instance_or_404

# --- sending ---------------------------------------------------------------------------------------


def _open_owner(instance) -> str:
    if instance.state != "open" or not instance.auth_number or instance.zombie:
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
    sb, body = sandbox(), body_json()
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise EvoError(400, ["Text is required"])
    with sb.world.lock:
        instance = instance_or_404(name)
        owner = _open_owner(instance)
        msg = send_message(sb, owner, _recipient(sb, body.get("number")), text, reply_to=_quoted(body),
                           source="api", via=("evolution", name))
        return jsonify(render.send_data(sb.world, instance, msg)), 201


@bp.post("/message/sendMedia/<name>")
def send_media(name):
    sb, body = sandbox(), body_json()
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
        instance = instance_or_404(name)
        owner = _open_owner(instance)
        msg = send_message(sb, owner, _recipient(sb, body.get("number")), body.get("caption") or "",
                           reply_to=_quoted(body), media=media, source="api", via=("evolution", name))
        return jsonify(render.send_data(sb.world, instance, msg)), 201


# --- media and history --------------------------------------------------------------------------------


@bp.post("/chat/getBase64FromMediaMessage/<name>")
def get_base64(name):
    sb, body = sandbox(), body_json()
    message = body.get("message")
    key_id = ((message or {}).get("key") or {}).get("id") if isinstance(message, dict) else None
    with sb.world.lock:
        instance = instance_or_404(name)
        msg = sb.world.by_wa_id.get(key_id or "")
        if msg is None or not instance.auth_number or not msg.involves(instance.auth_number) or msg.revoked:
            raise EvoError(400, ["Message not found"])
        if msg.media is None:
            raise EvoError(400, ["The message is not of the media type"])
        _cdn_download(sb, msg)
        message_type, _ = render.content(sb.world, msg, instance.auth_number)
        ext = msg.media.mimetype.split(";")[0].split("/")[-1]
        return jsonify({"mediaType": message_type, "fileName": msg.media.filename or f"{msg.wa_id}.{ext}",
                        "caption": msg.text or None,
                        "size": {"fileLength": render.long(len(msg.media.data)), "height": 640, "width": 480},
                        "mimetype": msg.media.mimetype, "base64": base64.b64encode(msg.media.data).decode(),
                        "buffer": None}), 201


def _cdn_download(sb, msg):
    """Evolution fetches the file from WhatsApp's CDN on every call and passes the failure on as is
    (§8.2): a hiccup gives AggregateError, an expired file the stream error naming the CDN URL."""
    config = sb.config
    if config["EVOLUTION_MEDIA_FAILURES"] > 0:
        config["EVOLUTION_MEDIA_FAILURES"] -= 1
        raise EvoError(400, ["AggregateError"])
    lifetime = config["EVOLUTION_MEDIA_LIFETIME"]
    if lifetime and time.time() - msg.timestamp > lifetime:
        raise EvoError(400, [f"Error: Failed to fetch stream from https://mmg.whatsapp.net/v/t62.7118-24/{msg.wa_id}.enc"])


@bp.post("/chat/fetchProfile/<name>")
def fetch_profile(name):
    """Needs a live socket (a WhatsApp round trip): a dead one answers Connection Closed."""
    sb, body = sandbox(), body_json()
    with sb.world.lock:
        instance = instance_or_404(name)
        _open_owner(instance)
        target = _recipient(sb, body.get("number"))
        phone = sb.world.phones[target]
        return jsonify({"wuid": render.phone_jid(phone), "name": phone.name, "numberExists": True, "picture": None,
                        "status": {"status": "", "setAt": None}, "isBusiness": False, "email": None,
                        "description": None, "website": None})


def _seconds(value):
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
    evo = facade()
    with sb.world.lock:
        instance = instance_or_404(name)
        owner = instance.auth_number
        rows = []
        for msg in (sb.world.chat_messages(owner) if owner else []):
            if not evo.holds(instance, msg) or (msg.revoked and not sb.config["EVOLUTION_KEEP_DELETED"]):
                continue
            row = (render.deleted_row if msg.revoked else render.stored_row)(sb.world, instance, msg,
                                                                               evo.row_id(msg.wa_id))
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
        instance = instance_or_404(name)
        owner = instance.auth_number
        latest = {}
        for msg in (sb.world.chat_messages(owner) if owner else []):
            party = msg.party(owner)
            previous = latest.get(party)
            newer = previous is None or (msg.timestamp, msg.seq) > (previous.timestamp, previous.seq)
            if facade().holds(instance, msg) and newer:
                latest[party] = msg  # the newest by time: a message delivered late can be older
        rows = []
        for number, msg in sorted(latest.items(), key=lambda kv: (kv[1].timestamp, kv[1].seq), reverse=True):
            peer = sb.world.phones[number]
            rows.append({"id": facade().row_id("chat:" + number), "remoteJid": render.chat_jid(peer),
                         "pushName": peer.name, "profilePicUrl": None, "updatedAt": render.iso(msg.timestamp),
                         "lastMessage": render.stored_row(sb.world, instance, msg, facade().row_id(msg.wa_id)),
                         "unreadCount": 0, "isSaved": True})
        skip, take = int(body.get("skip") or 0), body.get("take")
        return jsonify(rows[skip: skip + take if take else None])


@bp.post("/chat/whatsappNumbers/<name>")
def whatsapp_numbers(name):
    sb, body = sandbox(), body_json()
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not numbers:
        raise EvoError(400, [['instance requires property "numbers"']])
    out = []
    with sb.world.lock:
        instance_or_404(name)
        for number in numbers:
            if str(number).endswith("@lid"):
                out.append({"jid": number, "exists": True, "number": number, "lid": "lid"})
                continue
            digits = re.sub(r"\D", "", str(number))
            phone = sb.world.phone_by_digits(digits)
            out.append({"jid": f"{digits}@s.whatsapp.net", "exists": phone is not None, "number": str(number),
                        "name": phone.name if phone else None})
    return jsonify(out)
