"""POST /api/webhooks/<kind>/<gateway id> (e.g. /api/webhooks/waha/3): store the delivery, answer 200
at once (see inbox.accept). The gateway's kind decides how the signature is checked and parsed."""
from flask import Blueprint, abort, current_app, jsonify, request

from webapp.core.extensions import db
from webapp.models import Gateway
from webapp.whatsapp import inbox, reconcile

# CSRF-exempt (features.py): deliveries are authenticated by the HMAC of their raw body.
bp = Blueprint("whatsapp_hooks", __name__, url_prefix="/api/webhooks")


@bp.post("/<kind>/<int:gateway_id>")
def receive(kind, gateway_id):
    gateway = db.session.get(Gateway, gateway_id)
    if gateway is None or gateway.kind != kind:
        abort(404)
    limit = current_app.config.get("WHATSAPP_WEBHOOK_MAX_BYTES", 256 * 1024)
    # Refuse big bodies before reading or verifying them (events are small; media comes by URL).
    if request.content_length is not None and request.content_length > limit:
        return _too_large(gateway, limit)
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _too_large(gateway, limit)
    status, body = inbox.accept(gateway, raw, request.headers)
    return jsonify(body), status


def _too_large(gateway, limit):
    # Unverified, but possibly a real delivery: the gateway's numbers are reconciled (at most once a
    # minute each), so whatever it carried is fetched from the history instead.
    reconcile.refused_delivery(gateway.id)
    return jsonify({"error": "payload_too_large", "message": f"Webhook bodies are at most {limit} bytes."}), 413
