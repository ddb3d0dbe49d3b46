"""Evolution API v2 (2.3.7) shapes: JIDs and keys (incl. the @lid swap), Baileys message content
with its 2.3.6+ serialization (index-keyed bytes, Long objects), upsert data and stored rows."""
import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

SERVER_TZ = timezone(timedelta(hours=-3))  # the official image runs with TZ=America/Sao_Paulo


def phone_jid(phone) -> str:
    return f"{phone.digits}@s.whatsapp.net"


def lid_jid(phone) -> str:
    return f"{phone.lid}@lid"


def live_key(peer, from_me: bool, wa_id: str, version: str = "2.3.7") -> dict:
    """messages.upsert key of a 1:1 chat, by server version (evolution-api.md §5.3): 2.3.6 forwards
    Baileys' key as is (@lid + remoteJidAlt = phone), 2.3.7 swaps the phone into both fields, 2.4.0
    swaps symmetrically (remoteJid = phone, remoteJidAlt = LID). Without a known phone: @lid only."""
    if peer.lid_only:
        if not peer.lid_resolvable:
            key = {"remoteJid": lid_jid(peer)}
        elif version == "2.3.6":
            key = {"remoteJid": lid_jid(peer), "remoteJidAlt": phone_jid(peer)}
        elif version == "2.4.0":
            key = {"remoteJid": phone_jid(peer), "remoteJidAlt": lid_jid(peer)}
        else:
            key = {"remoteJid": phone_jid(peer), "remoteJidAlt": phone_jid(peer)}
        key.update({"fromMe": from_me, "id": wa_id, "participant": "", "addressingMode": "lid"})
        return key
    return {"remoteJid": phone_jid(peer), "fromMe": from_me, "id": wa_id, "participant": "", "addressingMode": "pn"}


def stored_key(peer, from_me: bool, wa_id: str) -> dict:
    """Rows keep the pre-swap Baileys key: @lid in remoteJid, the phone in remoteJidAlt."""
    if peer.lid_only:
        key = {"remoteJid": lid_jid(peer), "fromMe": from_me, "id": wa_id, "addressingMode": "lid"}
        if peer.lid_resolvable:
            key["remoteJidAlt"] = phone_jid(peer)
        return key
    return {"remoteJid": phone_jid(peer), "fromMe": from_me, "id": wa_id, "addressingMode": "pn"}


def group_key(world, msg, owner: str) -> dict:
    """Groups and status@broadcast: the chat plus the author (participant, participantAlt)."""
    author = world.phones[msg.sender]
    remote = "status@broadcast" if msg.chat_kind == "status" else f"{msg.group_id}@g.us"
    key = {"remoteJid": remote, "fromMe": msg.sender == owner, "id": msg.wa_id,
           "participant": lid_jid(author) if author.lid_only else phone_jid(author),
           "addressingMode": "lid" if author.lid_only else "pn"}
    if author.lid_only and author.lid_resolvable:
        key["participantAlt"] = phone_jid(author)
    return key


def chat_jid(peer) -> str:
    """What status/delete events carry: the LID for LID-addressed chats."""
    return lid_jid(peer) if peer.lid_only else phone_jid(peer)


def long(value: int, unsigned: bool = True) -> dict:
    low = value & 0xFFFFFFFF
    if low >= 2 ** 31:
        low -= 2 ** 32
    return {"low": low, "high": value >> 32, "unsigned": unsigned}


def index_bytes(data: bytes) -> dict:
    return {str(i): b for i, b in enumerate(data)}


def device_of(wa_id: str) -> str:
    if wa_id.startswith("3A") and len(wa_id) == 20:
        return "ios"
    if wa_id.startswith("3E") and len(wa_id) == 22:
        return "web"
    if len(wa_id) in (21, 32):
        return "android"
    return "unknown"


def content(world, msg, owner: str, text: str | None = None) -> tuple[str, dict]:
    """(messageType, message) for a message; text overrides (edits)."""
    text = msg.text if text is None else text
    context = reply_context(world, msg, owner)
    if msg.location:
        loc = msg.location
        return "locationMessage", {"locationMessage": {"degreesLatitude": loc["latitude"],
                                                       "degreesLongitude": loc["longitude"],
                                                       "name": loc.get("name"), "address": loc.get("address")}}
    if msg.contact:
        return "contactMessage", {"contactMessage": {"displayName": msg.contact["name"], "vcard": msg.vcard}}
    if msg.media is None:
        return "conversation", {"conversation": text}
    media = msg.media
    digest = hashlib.sha256(media.data).digest()
    common = {"url": f"https://mmg.whatsapp.net/v/t62.7118-24/{msg.wa_id}.enc", "mimetype": media.mimetype,
              "fileSha256": index_bytes(digest), "fileLength": long(len(media.data)),
              "mediaKey": index_bytes(digest[::-1]), "directPath": f"/v/t62.7118-24/{msg.wa_id}.enc",
              "mediaKeyTimestamp": long(msg.timestamp, unsigned=False)}
    if context:
        common["contextInfo"] = context
    kind = media.kind
    if kind == "image":
        return "imageMessage", {"imageMessage": {**common, "caption": text or None, "height": 640, "width": 480}}
    if kind == "video":
        return "videoMessage", {"videoMessage": {**common, "caption": text or None, "seconds": 5}}
    if kind == "audio":
        return "audioMessage", {"audioMessage": {**common, "seconds": 7, "ptt": media.voice}}
    name = media.filename or f"{msg.wa_id}"
    return "documentMessage", {"documentMessage": {**common, "title": name, "fileName": name,
                                                   "caption": text or None}}


def reply_context(world, msg, owner: str) -> dict | None:
    quoted = world.by_wa_id.get(msg.reply_to) if msg.reply_to else None
    if quoted is None:
        return None
    author, peer = world.phones[quoted.sender], world.phones[msg.party(owner)]
    # In a LID-addressed chat WhatsApp names both sides by their LID, our own account included.
    participant = lid_jid(author) if peer.lid_only else phone_jid(author)
    return {"stanzaId": quoted.wa_id, "participant": participant,
            "quotedMessage": {"conversation": "" if quoted.revoked else quoted.text}}


def upsert_data(world, instance, msg, *, base64_media: bool = False, version: str = "2.3.7") -> dict:
    owner = instance.auth_number
    me, peer = world.phones[owner], world.phones[msg.party(owner)]
    from_me = msg.sender == owner
    message_type, message = content(world, msg, owner)
    if base64_media and msg.media is not None:
        message["base64"] = base64.b64encode(msg.media.data).decode()
    data = {"key": group_key(world, msg, owner) if msg.chat_kind != "direct" else live_key(peer, from_me, msg.wa_id, version),
            "pushName": me.name if from_me else peer.name,
            "status": "SERVER_ACK" if from_me else "DELIVERY_ACK",
            "message": message}
    context = reply_context(world, msg, owner)
    if context:
        data["contextInfo"] = context
    data.update({"messageType": message_type, "messageTimestamp": msg.timestamp,
                 "instanceId": instance.id, "source": device_of(msg.wa_id)})
    return data


def send_data(world, instance, msg) -> dict:
    data = upsert_data(world, instance, msg)
    data["pushName"] = "Você"
    data["status"] = "PENDING"
    data["source"] = "web"
    data["key"] = {"remoteJid": data["key"]["remoteJid"], "fromMe": True, "id": msg.wa_id}
    return data


def stored_row(world, instance, msg, row_id: str) -> dict:
    """A findMessages row. An edit replaces the row's content and its messageTimestamp with the
    edit's time and adds an EDITED update (Evolution updates the stored row in place)."""
    owner = instance.auth_number
    me, peer = world.phones[owner], world.phones[msg.party(owner)]
    from_me = msg.sender == owner
    message_type, message = content(world, msg, owner)
    updates = [{"status": "READ" if from_me and msg.ack >= 3 else "DELIVERY_ACK"}]
    stamp = msg.timestamp
    if msg.edits:
        updates.append({"status": "EDITED"})
        stamp = msg.edits[-1][2]
    return {"id": row_id, "key": stored_key(peer, from_me, msg.wa_id),
            "pushName": me.name if from_me else peer.name, "messageType": message_type, "message": message,
            "messageTimestamp": stamp, "instanceId": instance.id, "source": device_of(msg.wa_id),
            "contextInfo": reply_context(world, msg, owner), "MessageUpdate": updates}


def deleted_row(world, instance, msg, row_id: str) -> dict:
    """DATABASE_DELETE_MESSAGE=true keeps a revoked message's row, marked deleted (§6.3)."""
    row = stored_row(world, instance, msg, row_id)
    row["key"]["deleted"] = True
    row["status"] = "DELETED"
    row["MessageUpdate"].append({"status": "DELETED"})
    return row


def date_time(ts: float) -> str:
    """Evolution's local wall-clock time written with a 'Z' (a known bug): don't trust the zone."""
    local = datetime.fromtimestamp(ts, SERVER_TZ).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int((ts % 1) * 1000):03d}Z"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int((ts % 1) * 1000):03d}Z"
