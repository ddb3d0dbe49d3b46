"""Cloud API (Graph) under /graph/<version>/: phone number objects, media id → URL → bytes with
the bearer token, and sending text; Graph's OAuthException / GraphMethodException bodies."""
import hashlib
import hmac
import secrets

from flask import Blueprint, Response, current_app, jsonify, request

from ..core import sandbox
from ..messaging import send as send_message
from ..world import WorldError

bp = Blueprint("graph", __name__, url_prefix="/graph")


def graph_error(status: int, message: str, kind: str, code: int, subcode: int | None = None):
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(12)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return jsonify({"error": error}), status


@bp.errorhandler(WorldError)
def _world_error(exc):
    return graph_error(exc.status, exc.message, "OAuthException", 100)


@bp.before_request
def _guard():
    sb = sandbox()
    if sb.api_down.get("graph"):
        return graph_error(sb.api_down["graph"], "Service temporarily unavailable", "OAuthException", 2)
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.args.get("access_token", "")
    if not token or not hmac.compare_digest(token.encode(), current_app.config["GRAPH_ACCESS_TOKEN"].encode()):
        return graph_error(401, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
    return None


def _missing(object_id):
    return graph_error(400, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                            "loaded due to missing permissions, or does not support this operation.",
                       "GraphMethodException", 100, 33)


@bp.get("/<version>/<object_id>")
def get_object(version, object_id):
    sb = sandbox()
    with sb.world.lock:
        number = sb.world.graph_numbers.get(object_id)
        if number is not None:
            phone = sb.world.phones[number.number]
            return jsonify({"verified_name": number.verified_name, "code_verification_status": "VERIFIED",
                            "display_phone_number": phone.e164, "quality_rating": "GREEN",
                            "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}, "id": object_id})
        msg = _media_message(sb, object_id)
        if msg is None:
            return _missing(object_id)
        return jsonify({"messaging_product": "whatsapp",
                        "url": f"{sb.public_url}/graph/media-download/{object_id}?ext={secrets.token_hex(4)}",
                        "mime_type": msg.media.mimetype, "sha256": hashlib.sha256(msg.media.data).hexdigest(),
                        "file_size": len(msg.media.data), "id": object_id})


def _media_message(sb, media_id):
    wa_id = sb.world.graph_media.get(media_id)
    msg = sb.world.by_wa_id.get(wa_id) if wa_id else None
    return msg if msg is not None and msg.media is not None else None


@bp.get("/media-download/<media_id>")
def download(media_id):
    sb = sandbox()
    with sb.world.lock:
        msg = _media_message(sb, media_id)
        if msg is None:
            return Response("Not Found", status=404, mimetype="text/plain")
        data, mimetype = msg.media.data, msg.media.mimetype.split(";")[0]
    return Response(data, mimetype=mimetype)


@bp.post("/<version>/<phone_number_id>/messages")
def send(version, phone_number_id):
    sb = sandbox()
    body = request.get_json(silent=True) or {}
    if body.get("messaging_product") != "whatsapp" or not isinstance(body.get("to"), str):
        return graph_error(400, "(#100) The parameter messaging_product is required.", "OAuthException", 100)
    if body.get("type", "text") != "text" or not isinstance((body.get("text") or {}).get("body"), str):
        return graph_error(400, "(#100) The sandbox sends text messages only.", "OAuthException", 100)
    with sb.world.lock:
        number = sb.world.graph_numbers.get(phone_number_id)
        if number is None:
            return _missing(phone_number_id)
        to = "+" + "".join(ch for ch in body["to"] if ch.isdigit())
        reply = (body.get("context") or {}).get("message_id")
        msg = send_message(sb, number.number, to, body["text"]["body"], reply_to=reply, source="api",
                           via=("graph", phone_number_id))
        return jsonify({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": to[1:]}],
                        "messages": [{"id": msg.wamid}]})
