"""/_sandbox/ control API: reset and inspect the world, act as any phone, link and break sessions,
bend webhook delivery, read the logs (tests and demos only)."""
from flask import Blueprint, jsonify, request

from . import messaging
from .core import sandbox
from .world import WorldError

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


@bp.errorhandler(WorldError)
def _world_error(exc):
    return jsonify({"error": exc.message}), exc.status


def _body() -> dict:
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise WorldError(400, "Send a JSON object.")
    return body


@bp.post("/reset")
def reset():
    sandbox().reset()
    return jsonify({"ok": True})


@bp.get("/state")
def state():
    from .state_view import world_state
    sb = sandbox()
    with sb.world.lock:
        return jsonify(world_state(sb))


@bp.route("/config", methods=["GET", "PUT"])
def config():
    from . import DEFAULTS, RUNTIME_KEYS
    sb = sandbox()
    if request.method == "PUT":
        body = _body()
        unknown = set(body) - RUNTIME_KEYS
        if unknown:
            raise WorldError(400, f"Not changeable at run time: {sorted(unknown)}.")
        updates = {key: _typed(key, value, DEFAULTS[key]) for key, value in body.items()}
        sb.config.update(updates)
        sb.dispatcher.delay_scale = sb.config["WEBHOOK_DELAY_SCALE"]
        sb.dispatcher.timeout = sb.config["WEBHOOK_TIMEOUT"]
    return jsonify({k: sb.config[k] for k in sorted(RUNTIME_KEYS)})


def _typed(key, value, default):
    """Values keep the type of the key's default (None defaults take a string or null)."""
    if default is None:
        if value is not None and not isinstance(value, str):
            raise WorldError(400, f"{key} must be a string or null.")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise WorldError(400, f"{key} must be true or false.")
        return value
    if isinstance(default, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(default)(value)
    if isinstance(default, str) and isinstance(value, str):
        return value
    raise WorldError(400, f"{key} must be of type {type(default).__name__}.")


# --- messages ------------------------------------------------------------------------------------
@bp.post("/messages")
def send():
    sb, body = sandbox(), _body()
    with sb.world.lock:
        msg = _send_one(sb, body)
        return jsonify(message_view(sb, msg)), 201


def _send_one(sb, body: dict):
    text = body.get("text") or ""
    if not isinstance(text, str):
        raise WorldError(400, "text must be a string.")
    return messaging.send(sb, body.get("from"), body.get("to"), text, reply_to=body.get("reply_to"),
                          media=messaging.media_from_json(body.get("media")),
                          location=messaging.location_from_json(body.get("location")),
                          contact=messaging.contact_from_json(body.get("contact")),
                          chat=body.get("chat") or "direct", group_name=body.get("group_name"),
                          timestamp=messaging.timestamp_from_json(body.get("timestamp")),
                          media_gone=bool(body.get("media_gone")), ago=_seconds_ago(body.get("ago")))


def _seconds_ago(value) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 30 * 86400:
        raise WorldError(400, "ago is whole seconds (0 to 30 days) before now.")
    return value


@bp.post("/messages/batch")
def send_batch():
    """{"messages": [{from, to, text, reply_to?, media?}, …]} — many at once (benchmarks, gap tests)."""
    sb, body = sandbox(), _body()
    items = body.get("messages")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise WorldError(400, "messages must be a non-empty list of message objects.")
    with sb.world.lock:
        sent = [_send_one(sb, item) for item in items]
        return jsonify({"data": [message_view(sb, m) for m in sent]}), 201


@bp.get("/messages")
def list_messages():
    sb = sandbox()
    number, peer = request.args.get("number"), request.args.get("peer")
    with sb.world.lock:
        found = [m for m in sb.world.messages
                 if (not number or m.involves(number)) and (not peer or m.involves(peer))]
        return jsonify({"data": [message_view(sb, m) for m in found]})


@bp.post("/messages/<ref>/edit")
def edit(ref):
    sb, body = sandbox(), _body()
    if not isinstance(body.get("text"), str):
        raise WorldError(400, "text (the new text) is required.")
    with sb.world.lock:
        msg = messaging.edit(sb, ref, body["text"], by=body.get("by"))
        return jsonify(message_view(sb, msg))


@bp.post("/messages/<ref>/revoke")
@bp.delete("/messages/<ref>")
def revoke(ref):
    sb, body = sandbox(), _body()
    with sb.world.lock:
        msg = messaging.revoke(sb, ref, by=body.get("by"))
        return jsonify(message_view(sb, msg))


@bp.post("/messages/<ref>/media-gone")
def media_gone(ref):
    """WhatsApp's servers drop the message's file: gateways can no longer download it, not even again."""
    sb = sandbox()
    with sb.world.lock:
        msg = sb.world.find_message(ref)
        if msg is None or msg.media is None:
            raise WorldError(404, f"No message with a file {ref!r}.")
        msg.media_gone = True
        return jsonify(message_view(sb, msg))


@bp.post("/waha/files/expire")
def waha_files_expire():
    """Every WAHA file downloaded so far passes its WHATSAPP_FILES_LIFETIME now (404 FILE_NOT_FOUND);
    fetching its message again with downloadMedia=true downloads a fresh one."""
    sb = sandbox()
    with sb.world.lock:
        for key, (wa_id, _created) in list(sb.world.waha_files.items()):
            sb.world.waha_files[key] = (wa_id, 0.0)
        return jsonify({"expired": len(sb.world.waha_files)})


@bp.put("/phones/<path:e164>")
def phone_settings(e164):
    """What the gateways know about a person: {"lid_only": bool, "lid_resolvable": bool} (whether
    members see them only by LID, and whether the LID API knows their phone)."""
    sb, body = sandbox(), _body()
    unknown = set(body) - {"lid_only", "lid_resolvable"}
    if unknown or not all(isinstance(v, bool) for v in body.values()):
        raise WorldError(400, "Send lid_only and/or lid_resolvable as true or false.")
    with sb.world.lock:
        phone = sb.world.ensure_phone(e164)
        for key, value in body.items():
            setattr(phone, key, value)
        return jsonify({"e164": phone.e164, "lid": phone.lid, "lid_only": phone.lid_only,
                        "lid_resolvable": phone.lid_resolvable})


def message_view(sb, msg) -> dict:
    """The message and the id every façade knows it by."""
    world = sb.world
    ids = {"wa_id": msg.wa_id, "wamid": msg.wamid}
    for number in (msg.sender, msg.recipient):
        phone = world.phones[number]
        if phone.kind != "member" or msg.chat_kind != "direct":
            continue
        peer = world.phones[msg.party(number)]
        chat = f"{peer.lid}@lid" if peer.lid_only else f"{peer.digits}@c.us"
        ids.setdefault("waha", {})[number] = f"{'true' if msg.sender == number else 'false'}_{chat}_{msg.wa_id}"
    return {
        "id": msg.wa_id, "ids": ids, "from": msg.sender, "to": msg.recipient, "text": msg.text,
        "timestamp": msg.timestamp, "source": msg.source, "reply_to": msg.reply_to,
        "media": None if msg.media is None else {"filename": msg.media.filename, "mimetype": msg.media.mimetype,
                                                 "size": len(msg.media.data), "media_id": msg.media_id},
        "edited": bool(msg.edits), "revoked": msg.revoked, "ack": msg.ack,
        "location": msg.location, "contact": msg.contact, "chat": msg.chat_kind, "group_id": msg.group_id,
    }


# --- linking and breaking sessions -------------------------------------------------------------------
def _member(number) -> str:
    """A member's phone; an unknown number becomes a new member (tests link fresh numbers)."""
    world = sandbox().world
    known = world.phone(number) if isinstance(number, str) else None
    phone = known or world.ensure_phone(number)
    if known is None:
        phone.kind, phone.name = "member", f"Member {phone.e164[-4:]}"
    if phone.kind != "member":
        raise WorldError(400, f"{number} is a customer's phone; link a member's phone.")
    return phone.e164


@bp.post("/scan")
def scan():
    """The phone scans a QR value (or enters a pairing code): whichever pending session shows it links."""
    sb, body = sandbox(), _body()
    with sb.world.lock:
        number = _member(body.get("number"))
        qr, code = (body.get("qr") or "").strip(), (body.get("code") or "").strip().upper()
        if not qr and not code:
            raise WorldError(400, "Send qr (the QR code's value) or code (the pairing code), and number.")
        for facade in sb.facades:
            linked = facade.scan_by(number, qr=qr, code=code) if hasattr(facade, "scan_by") else None
            if linked:
                return jsonify({"ok": True, "facade": facade.name, "account": linked, "number": number})
        raise WorldError(404, "No session is showing that QR code or pairing code right now "
                              "(it may have rotated: scan the current one).")


ACTIONS = ("scan", "fail", "restore", "logout", "blip", "zombie")


def _account_action(facade_name: str, name: str, action: str):
    sb, body = sandbox(), _body()
    if action not in ACTIONS or (facade_name == "waha" and action in ("blip", "zombie")):
        raise WorldError(404, f"Unknown action {action!r}; use one of {ACTIONS}.")
    with sb.world.lock:
        facade = sb.facade(facade_name)
        number = _member(body.get("number")) if action == "scan" else None
        result = facade.control(name, action, number, body) if facade_name == "waha" else \
            facade.control(name, action, number)
        return jsonify(result)


@bp.post("/sessions/<name>/<action>")
@bp.post("/waha/sessions/<name>/<action>")
def waha_session_action(name, action):
    return _account_action("waha", name, action)


@bp.post("/instances/<name>/<action>")
@bp.post("/evolution/instances/<name>/<action>")
def evolution_instance_action(name, action):
    return _account_action("evolution", name, action)


# --- Cloud API numbers ---------------------------------------------------------------------------------
@bp.route("/graph/numbers", methods=["GET", "POST"])
def graph_numbers():
    sb = sandbox()
    facade = sb.facade("graph")
    if request.method == "POST":
        body = _body()
        with sb.world.lock:
            number = _member(body.get("number"))
            row = facade.register(number, phone_number_id=body.get("phone_number_id"),
                                  webhook_url=body.get("webhook_url"))
            return jsonify(row), 201
    with sb.world.lock:
        return jsonify({"data": facade.numbers_view()})


@bp.delete("/graph/numbers/<phone_number_id>")
def graph_number_delete(phone_number_id):
    sb = sandbox()
    with sb.world.lock:
        if sb.world.graph_numbers.pop(phone_number_id, None) is None:
            raise WorldError(404, "No such phone_number_id.")
    return jsonify({"ok": True})


@bp.post("/graph/numbers/<phone_number_id>/errors")
def graph_number_error(phone_number_id):
    """Deliver a webhook with an `errors` entry, as Meta does for e.g. unsupported message types."""
    sb, body = sandbox(), _body()
    with sb.world.lock:
        number = sb.world.graph_numbers.get(phone_number_id)
        if number is None:
            raise WorldError(404, "No such phone_number_id.")
        sb.facade("graph").emit_error(number, int(body.get("code", 131051)),
                                      body.get("title", "Message type unknown"),
                                      body.get("details", "Message type is currently not supported."))
    return jsonify({"ok": True})


# --- outages, webhook faults and logs ------------------------------------------------------------------------
@bp.route("/outage", methods=["GET", "PUT"])
def outage():
    sb = sandbox()
    if request.method == "PUT":
        body = _body()
        facade = body.get("facade")
        if facade not in ("waha", "evolution", "graph"):
            raise WorldError(400, "facade is 'waha', 'evolution' or 'graph'.")
        if body.get("down", True):
            sb.api_down[facade] = int(body.get("status", 503))
        else:
            sb.api_down.pop(facade, None)
    return jsonify(dict(sb.api_down))


@bp.route("/webhooks/faults", methods=["GET", "PUT", "DELETE"])
def webhook_faults():
    dispatcher = sandbox().dispatcher
    if request.method == "DELETE":
        dispatcher.faults.reset()
        dispatcher.flush()
    elif request.method == "PUT":
        try:
            dispatcher.faults.configure(_body())
        except ValueError as exc:
            raise WorldError(400, str(exc))
    return jsonify(dispatcher.faults.snapshot())


@bp.post("/webhooks/flush")
def webhook_flush():
    return jsonify({"released": sandbox().dispatcher.flush()})


@bp.post("/webhooks/give-up")
def webhook_give_up():
    return jsonify({"given_up": sandbox().dispatcher.give_up()})


def _since() -> int:
    try:
        return int(request.args.get("since", 0))
    except ValueError:
        raise WorldError(400, "since must be an integer.")


@bp.route("/webhooks", methods=["GET", "DELETE"])
def webhook_log():
    dispatcher = sandbox().dispatcher
    if request.method == "DELETE":
        dispatcher.clear_log()
        return jsonify({"ok": True})
    entries, next_index = dispatcher.log_since(_since())
    for key in ("facade", "event", "target", "outcome"):
        if request.args.get(key):
            entries = [e for e in entries if e[key] == request.args[key]]
    return jsonify({"data": entries, "next_index": next_index, "pending": dispatcher.pending()})


@bp.route("/requests", methods=["GET", "DELETE"])
def request_log():
    sb = sandbox()
    if request.method == "DELETE":
        sb.clear_log()
        return jsonify({"ok": True})
    entries, next_index = sb.log_since(_since())
    if request.args.get("facade"):
        entries = [e for e in entries if e["facade"] == request.args["facade"]]
    return jsonify({"data": entries, "next_index": next_index})
