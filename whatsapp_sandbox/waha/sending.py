"""WAHA sending: sendText, and sendImage / sendFile / sendVoice (base64 `file.data`; 422 in Core mode)."""
import base64

from flask import current_app, jsonify

from ..core import sandbox
from ..messaging import send as send_message
from ..world import Media
from . import render
from .api import body_json, bp, nest, peer_of, session_in, single_session, wait_for_status

# --- sending ------------------------------------------------------------------------------------------------


def _send(kind: str):
    sb, body = sandbox(), body_json()
    name = body.get("session") or "default"
    chat = body.get("chatId")
    if not isinstance(chat, str) or not chat:
        raise nest(400, ["chatId must be a string"])
    media = None
    if kind != "text":
        if single_session():
            raise nest(422, f"The feature is available only in Plus version for '{current_app.config['WAHA_ENGINE']}' engine.")
        media = _media_from(body.get("file"), voice=kind == "voice")
    text = body.get("text") if kind == "text" else body.get("caption")
    if kind == "text" and not isinstance(text, str):
        raise nest(400, ["text must be a string"])
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        peer = peer_of(sb.world, chat if "@" in chat else chat + "@c.us")
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
