"""WAHA chats, message history (with the documented filters) and contacts."""
import re
from urllib.parse import unquote

from flask import current_app, jsonify, request

from ..core import sandbox
from . import render
from .api import bool_arg, bp, int_arg, nest, peer_of, session_in, wait_for_status

ACKS = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}
NO_STORE = ("Enable NOWEB store 'config.noweb.store.enabled=True' and 'config.noweb.store.full_sync=True' "
            "when starting a new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store")


def require_store(session):
    """NOWEB keeps chats and messages only with its store on (the session's config, unless the
    sandbox is told the store is off for every session). Other engines read them from WhatsApp."""
    if current_app.config["WAHA_ENGINE"] != "NOWEB":
        return
    store = ((session.config.get("noweb") or {}).get("store") or {}) if isinstance(session.config, dict) else {}
    if current_app.config["WAHA_NOWEB_STORE_OFF"] or not store.get("enabled"):
        raise nest(400, NO_STORE)


@bp.get("/api/<name>/chats")
def chats(name):
    sb = sandbox()
    limit, offset = int_arg("limit", 0) or None, int_arg("offset", 0)
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        require_store(session)
        rows = _chat_rows(sb, session)
        if request.args.get("sortOrder", "desc") == "asc":
            rows.reverse()
        rows = rows[offset:offset + limit if limit else None]
        return jsonify([{"id": r["id"], "name": r["name"], "isGroup": r["id"].endswith("@g.us"), "unreadCount": 0,
                         "timestamp": r["last"].timestamp, "archived": False, "pinned": False} for r in rows])


@bp.get("/api/<name>/chats/overview")
def chats_overview(name):
    sb = sandbox()
    limit, offset = int_arg("limit", 20), int_arg("offset", 0)
    wanted = set(request.args.getlist("ids"))
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        require_store(session)
        rows = [r for r in _chat_rows(sb, session) if not wanted or r["id"] in wanted]
        return jsonify([{"id": r["id"], "name": r["name"], "picture": None,
                         "lastMessage": render.wa_message(sb, session, r["last"], download_media=False),
                         "_chat": {"id": r["id"]}} for r in rows[offset:offset + limit]])


def _chat_rows(sb, session) -> list:
    latest, groups = {}, {}
    for msg in sb.world.chat_messages(session.auth_number):
        party = msg.party(session.auth_number)
        if party not in latest or (msg.timestamp, msg.seq) > (latest[party].timestamp, latest[party].seq):
            latest[party] = msg  # a chat's last message is its newest by time (a late one can be older)
    for msg in sb.world.messages:
        if msg.chat_kind == "group" and msg.involves(session.auth_number):
            groups[msg.group_id] = msg
    rows = [{"id": render.chat_id(sb.world.phones[p]), "name": sb.world.phones[p].name, "last": m}
            for p, m in latest.items()]
    rows += [{"id": f"{g}@g.us", "name": sb.world.groups.get(g, ""), "last": m} for g, m in groups.items()]
    rows.sort(key=lambda r: (r["last"].timestamp, r["last"].seq), reverse=True)
    return rows


@bp.get("/api/<name>/chats/<path:chat>/messages")
def history(name, chat):
    sb = sandbox()
    limit, offset = int_arg("limit", 10), int_arg("offset", 0)
    download = bool_arg("downloadMedia", True)
    merge = bool_arg("merge", True)
    order = request.args.get("sortOrder", "desc")
    if order not in ("asc", "desc"):
        raise nest(400, ["sortOrder must be one of the following values: desc, asc"])
    if request.args.get("sortBy", "timestamp") not in ("timestamp", "messageTimestamp"):
        raise nest(400, ["sortBy must be one of the following values: timestamp, messageTimestamp"])
    gte, lte = int_arg("filter.timestamp.gte", -1), int_arg("filter.timestamp.lte", -1)
    from_me = bool_arg("filter.fromMe", None)
    ack = request.args.get("filter.ack")
    if ack is not None and ack not in ACKS:
        raise nest(400, f"Invalid ack: '{ack}'")
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        require_store(session)
        owner = session.auth_number
        if unquote(chat) == "all":
            if current_app.config["WAHA_ENGINE"] == "WEBJS":
                raise nest(501, "The method is not implemented by 'WEBJS' engine. Check the docs and try another engine.")
            found = sb.world.chat_messages(owner)
        else:
            peer = peer_of(sb.world, chat, merge)
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
    download = bool_arg("downloadMedia", True)
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        msg = sb.world.find_message(message_id)
        peer = peer_of(sb.world, chat) if unquote(chat) != "all" else None
        if msg is None or not msg.involves(session.auth_number) or (peer and msg.party(session.auth_number) != peer.e164):
            raise nest(404, "Message not found")
        return jsonify(render.wa_message(sb, session, msg, download_media=download))


# --- contacts --------------------------------------------------------------------------------------------


@bp.get("/api/contacts/check-exists")
def check_exists():
    sb = sandbox()
    name, phone = request.args.get("session", "default"), request.args.get("phone", "")
    digits = re.sub(r"\D", "", phone.split("@")[0])
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session_in(name, ["WORKING"])
        if sb.world.phone_by_digits(digits):
            return jsonify({"numberExists": True, "chatId": f"{digits}@c.us"})
        return jsonify({"numberExists": False})


@bp.get("/api/contacts")
@bp.get("/api/<name>/contacts/<path:contact>")
def contact(name=None, contact=None):
    sb = sandbox()
    name = name or request.args.get("session", "default")
    contact = contact or request.args.get("contactId", "")
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session_in(name, ["WORKING"])
        phone = peer_of(sb.world, contact if "@" in contact else contact + "@c.us")
        if phone is None:
            return jsonify(None)
        return jsonify({"id": render.chat_id(phone), "number": None if phone.lid_only else phone.digits,
                        "name": phone.name, "pushname": phone.name, "shortName": phone.name.split()[0],
                        "isMe": False, "isGroup": False, "isWAContact": True, "isMyContact": not phone.lid_only,
                        "isBlocked": False})
