"""Evolution instances: create, connect (QR / pairing code), connectionState, fetchInstances,
restart, logout, delete, webhook set/find and settings."""
import time

from flask import current_app, jsonify, request

from ..core import sandbox
from . import render
from .api import EvoError, body_json, bp, facade, instance_or_404
from .facade import CONFIG_EVENTS

INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")

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
    sb, body = sandbox(), body_json()
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
        evo = facade()
        instance = evo.create(name, body["integration"], body.get("token"), webhook, settings)
        if webhook:
            webhook["instanceId"] = instance.id
        if body.get("number"):
            instance.pairing_number = str(body["number"])
        if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
            evo.connect(instance)
        out = {"instance": {"instanceName": name, "instanceId": instance.id, "integration": instance.integration,
                            "webhookWaBusiness": None, "accessTokenWaBusiness": "", "status": instance.state},
               "hash": instance.token,
               "webhook": {"webhookUrl": webhook["url"], "webhookHeaders": webhook["headers"],
                           "webhookByEvents": webhook["webhookByEvents"],
                           "webhookBase64": webhook["webhookBase64"]} if webhook else {},
               "websocket": {}, "rabbitmq": {}, "nats": {}, "sqs": {}, "settings": settings}
        if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
            out["qrcode"] = evo.qr_object(instance)
        return jsonify(out), 201


@bp.get("/instance/connect/<name>")
def connect(name):
    sb = sandbox()
    with sb.world.lock:
        instance = instance_or_404(name)
        if instance.state == "open":
            return jsonify({"instance": {"instanceName": name, "state": "open"}})
        facade().connect(instance, request.args.get("number"))
        if instance.state == "open" or (instance.auth_number and instance.qr is None):
            return jsonify({"instance": {"instanceName": name, "state": instance.state}})
        return jsonify(facade().qr_object(instance))


@bp.get("/instance/connectionState/<name>")
def connection_state(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify({"instance": {"instanceName": name, "state": instance_or_404(name).state}})


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
            "ownerJid": instance.owner_jid, "profileName": owner.name if owner else None,
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
        instance = instance_or_404(name)
        if instance.state == "close":
            return jsonify({"error": True, "message": "[object Object]"})
        instance.state = "close"
        instance.qr = None  # a new socket: a new QR (and pairing code, when a number was given)
        facade().connect(instance)
        if instance.auth_number:
            return jsonify({"instance": {"instanceName": name, "state": instance.state}})
        return jsonify(facade().qr_object(instance))


@bp.delete("/instance/logout/<name>")
def logout(name):
    sb = sandbox()
    with sb.world.lock:
        instance = instance_or_404(name)
        if instance.state == "close":
            if facade().version == "2.4.0":  # 2.4.0: logout is idempotent
                return jsonify({"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}})
            raise EvoError(400, [f'The "{name}" instance is not connected'])
        facade().close(instance, 401)
        return jsonify({"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}})


@bp.delete("/instance/delete/<name>")
def delete(name):
    sb = sandbox()
    with sb.world.lock:
        facade().delete(instance_or_404(name))
        return jsonify({"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}})


# --- webhook and settings -------------------------------------------------------------------------


@bp.post("/webhook/set/<name>")
def webhook_set(name):
    sb, body = sandbox(), body_json()
    if not isinstance(body.get("webhook"), dict):
        raise EvoError(400, [['instance requires property "webhook"']])
    spec = body["webhook"]
    if not isinstance(spec.get("enabled"), bool):
        raise EvoError(400, [['webhook requires property "enabled"']])
    with sb.world.lock:
        instance = instance_or_404(name)
        instance.webhook = _webhook_from(spec, instance.id, instance.webhook)
        return jsonify(instance.webhook), 201


@bp.get("/webhook/find/<name>")
def webhook_find(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(instance_or_404(name).webhook)


@bp.post("/settings/set/<name>")
def settings_set(name):
    sb, body = sandbox(), body_json()
    with sb.world.lock:
        instance = instance_or_404(name)
        instance.settings.update({k: v for k, v in body.items() if k in instance.settings})
        return jsonify({"settings": {"instanceName": name, "settings": instance.settings}}), 201


@bp.get("/settings/find/<name>")
def settings_find(name):
    sb = sandbox()
    with sb.world.lock:
        return jsonify(instance_or_404(name).settings)
