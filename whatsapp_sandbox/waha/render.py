"""WAHA shapes: chat ids, serialized message ids, WAMessage (WEBJS or NOWEB flavour), media files."""
import mimetypes
import time

# A tiny JPEG's base64, standing in for the thumbnail WEBJS sends as a location's body.
LOCATION_THUMBNAIL = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcp"
# How each engine reports a file it could not download from WhatsApp (waha.md §6.1).
MEDIA_ERRORS = {
    "GOWS": {"code": 13, "details": "failed to download media: download failed with status code 403"},
    "NOWEB": {"name": "Error", "message": "Failed to fetch stream from https://mmg.whatsapp.net/v/t62.7118-24/f1",
              "stack": "Error: Failed to fetch stream from https://mmg.whatsapp.net/v/t62.7118-24/f1\n    at getHttpStream"},
    "WEBJS": {"name": "Error", "message": "Evaluation failed: t: Download failed",
              "stack": "Error: Evaluation failed: t: Download failed\n    at ExecutionContext._evaluateInternal"},
}
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
EXTENSIONS = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
              "audio/ogg": "oga", "audio/mpeg": "mp3", "video/mp4": "mp4", "text/plain": "txt"}


def chat_id(phone) -> str:
    """How this account sees the other person: by LID when the number is hidden."""
    return f"{phone.lid}@lid" if phone.lid_only else f"{phone.digits}@c.us"


def jid(phone) -> str:
    """NOWEB's engine-internal form."""
    return f"{phone.lid}@lid" if phone.lid_only else f"{phone.digits}@s.whatsapp.net"


def me_info(world, session) -> dict | None:
    if not session.auth_number or session.status != "WORKING":
        return None
    phone = world.phones[session.auth_number]
    return {"id": f"{phone.digits}@c.us", "lid": f"{phone.lid}@lid", "pushName": phone.name}


def serialized_id(from_me: bool, chat: str, short: str) -> str:
    return f"{'true' if from_me else 'false'}_{chat}_{short}"


def extension(mimetype: str) -> str:
    base = mimetype.split(";")[0].strip().lower()
    if base in EXTENSIONS:
        return EXTENSIONS[base]
    guessed = mimetypes.guess_extension(base) or ".bin"
    return guessed.lstrip(".")


def webjs_type(msg) -> str:
    if msg.revoked:
        return "revoked"
    if msg.location:
        return "location"
    if msg.contact:
        return "vcard"
    if msg.media is None:
        return "chat"
    kind = msg.media.kind
    return {"audio": "ptt" if msg.media.voice else "audio"}.get(kind, kind)


def chat_of(world, me, msg) -> tuple[str, str | None]:
    """(chat id, participant) of a message as `me` sees it; participant only in groups / statuses."""
    from_me = msg.sender == me.e164
    author = f"{me.digits}@c.us" if from_me else chat_id(world.phones[msg.sender])
    if msg.chat_kind == "group":
        return f"{msg.group_id}@g.us", author
    if msg.chat_kind == "status":
        return "status@broadcast", author
    if msg.chat_kind == "newsletter":
        return f"{msg.group_id}@newsletter", None
    return chat_id(world.phones[msg.party(me.e164)]), None


def wa_message(sb, session, msg, *, download_media=True, event=False) -> dict:
    world, engine = sb.world, sb.config["WAHA_ENGINE"]
    me = world.phones[session.auth_number]
    peer = world.phones[msg.party(me.e164)]
    from_me = msg.sender == me.e164
    chat, participant = chat_of(world, me, msg)
    sid = serialized_id(from_me, chat, msg.wa_id) + (f"_{participant}" if participant else "")
    me_cus = f"{me.digits}@c.us"
    body = "" if msg.revoked else msg.text
    if engine == "WEBJS" and msg.location and not msg.revoked:
        body = LOCATION_THUMBNAIL  # whatsapp-web.js: a location's body is its base64 JPEG thumbnail
    out = {"id": sid, "timestamp": msg.timestamp}
    if engine == "NOWEB" or msg.chat_kind != "direct":
        out["from"] = chat
    else:
        out["from"] = me_cus if from_me else chat
    out["fromMe"] = from_me
    if event:
        api_sent = msg.source == "api" and msg.via == ("waha", session.name)
        out["source"] = "api" if api_sent else "app"
    if engine != "NOWEB":
        out["to"] = chat if from_me and msg.chat_kind == "direct" else me_cus
    if participant:
        out["participant"] = participant
    has_media = msg.media is not None and not msg.revoked
    location = None
    if msg.location and not msg.revoked:
        location = {"latitude": str(msg.location["latitude"]), "longitude": str(msg.location["longitude"]),
                    "live": False, "name": msg.location.get("name"), "address": msg.location.get("address")}
    out.update({
        "body": body,
        "hasMedia": has_media,
        "media": media_info(sb, session, sid, msg) if has_media and download_media else None,
        "ack": msg.ack if from_me else 2,
        "ackName": ACK_NAMES.get(msg.ack if from_me else 2, "UNKNOWN"),
        "location": location,
        "vCards": [msg.vcard] if msg.contact and not msg.revoked else [],
        "replyTo": reply_to(world, me, peer, msg) if msg.chat_kind == "direct" else None,
        "_data": raw_data(engine, msg, me, peer, from_me, chat, sid, body),
    })
    return out


def reply_to(world, me, peer, msg) -> dict | None:
    quoted = world.by_wa_id.get(msg.reply_to) if msg.reply_to else None
    if quoted is None:
        return None
    author = f"{me.digits}@c.us" if quoted.sender == me.e164 else chat_id(peer)
    return {"id": quoted.wa_id, "participant": author, "body": "" if quoted.revoked else quoted.text,
            "hasMedia": quoted.media is not None}


def raw_data(engine, msg, me, peer, from_me, chat, sid, body) -> dict:
    sender = me if from_me else peer
    if engine == "GOWS":  # whatsmeow's event: Info + Message, the push name in Info.PushName
        author = f"{sender.digits}@s.whatsapp.net" if not sender.lid_only else f"{sender.lid}@lid"
        return {"Info": {"Chat": jid(peer) if msg.chat_kind == "direct" else chat, "Sender": author,
                         "IsFromMe": from_me, "IsGroup": msg.chat_kind == "group", "ID": msg.wa_id,
                         "Timestamp": msg.timestamp, "PushName": sender.name},
                "Message": {"conversation": body} if msg.media is None else {}}
    if engine == "NOWEB":
        remote = jid(peer) if msg.chat_kind == "direct" else chat
        key = {"remoteJid": remote, "fromMe": from_me, "id": msg.wa_id}
        if msg.chat_kind == "direct" and peer.lid_only and peer.lid_resolvable:
            key["remoteJidAlt"] = f"{peer.digits}@s.whatsapp.net"
        if msg.chat_kind == "group":
            key["participant"] = f"{sender.digits}@s.whatsapp.net" if not sender.lid_only else f"{sender.lid}@lid"
        return {"key": key, "pushName": sender.name, "messageTimestamp": msg.timestamp,
                "message": {"conversation": body} if msg.media is None else {}}
    data = {"id": {"fromMe": from_me, "remote": chat, "id": msg.wa_id, "_serialized": sid},
            "type": webjs_type(msg), "t": msg.timestamp, "body": body}
    if not from_me:
        data["notifyName"] = peer.name
    return data


def media_info(sb, session, sid, msg) -> dict:
    """Registers the file under /api/files/{session}/ (it expires like WAHA's) and describes it;
    a file WhatsApp no longer has comes back as `url: null` with the engine's error object."""
    if msg.media_gone:
        return {"url": None, "mimetype": msg.media.mimetype, "filename": msg.media.filename,
                "error": MEDIA_ERRORS.get(sb.config["WAHA_ENGINE"], MEDIA_ERRORS["WEBJS"])}
    filename = f"{sid}.{extension(msg.media.mimetype)}"
    sb.world.waha_files[f"{session.name}/{filename}"] = (msg.wa_id, time.time())
    return {"url": f"{sb.public_url}/waha/api/files/{session.name}/{filename}",
            "mimetype": msg.media.mimetype, "filename": msg.media.filename, "error": None}


def session_dto(session) -> dict:
    return {"name": session.name, "status": session.status, "config": session.config}


def session_info(sb, session, with_engine=False) -> dict:
    info = session_dto(session)
    info.update({"me": me_info(sb.world, session), "presence": "online" if session.status == "WORKING" else None,
                 "timestamps": {"activity": int(session.created_at * 1000)}})
    if with_engine:
        info["engine"] = {"engine": sb.config["WAHA_ENGINE"],
                          "state": "CONNECTED" if session.status == "WORKING" else None}
    return info


def environment(config) -> dict:
    single = config["WAHA_SINGLE_SESSION"]
    return {"version": "2026.5.1" if single else "2026.7.1", "engine": config["WAHA_ENGINE"],
            "tier": "CORE" if single else "PLUS", "browser": None, "platform": "linux/x64",
            "worker": {"id": None}}
