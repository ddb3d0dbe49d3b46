"""WAHA QR code (PNG, JSON or raw value) and pairing code: only while the session is SCAN_QR_CODE."""
import base64

from flask import Response, current_app, jsonify, request

from .. import qr as qrcode
from ..core import sandbox
from ..ids import pairing_code
from .api import body_json, bp, nest, session_in, session_or_404, wait_for_status


@bp.get("/api/<name>/auth/qr")
def qr(name):
    sb = sandbox()
    wait_for_status(name, ["SCAN_QR_CODE"])
    with sb.world.lock:
        session = session_in(name, ["SCAN_QR_CODE"])
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
    sb, body = sandbox(), body_json()
    phone = str(body.get("phoneNumber") or "")
    if not phone.isdigit():
        raise nest(400, ["phoneNumber must be the international number, digits only"])
    with sb.world.lock:
        session = session_or_404(name)
        if current_app.config["WAHA_ENGINE"] == "NOWEB" and body.get("method"):
            raise nest(422, "method must be empty for web pairing")
        if session.status != "SCAN_QR_CODE":
            raise nest(422, f"Can request code only in SCAN_QR_CODE status. The current status is {session.status}")
        session.pairing = {"code": pairing_code(), "phone": "+" + phone}
        return jsonify({"code": session.pairing["code"]}), 201
