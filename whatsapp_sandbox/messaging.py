"""What people do on their phones — send, reply, edit, delete for everyone — as world changes
that every façade then reports. Callers hold world.lock."""
import base64
import binascii
import hashlib
import time

from . import ids
from .world import Media, Message, WorldError

MAX_MEDIA_BYTES = 32 * 1024 * 1024


def media_from_json(spec) -> Media | None:
    """{"filename", "mimetype", "data_base64", "voice"?} -> Media (clear 400s on bad input)."""
    if spec in (None, {}):
        return None
    if not isinstance(spec, dict):
        raise WorldError(400, "media must be an object {filename, mimetype, data_base64}.")
    mimetype = spec.get("mimetype")
    if not isinstance(mimetype, str) or "/" not in mimetype:
        raise WorldError(400, "media.mimetype is required, e.g. image/jpeg.")
    try:
        data = base64.b64decode(spec.get("data_base64") or "", validate=True)
    except (binascii.Error, ValueError):
        raise WorldError(400, "media.data_base64 is not valid base64.")
    if not data:
        raise WorldError(400, "media.data_base64 is required (the file's bytes, base64).")
    if len(data) > MAX_MEDIA_BYTES:
        raise WorldError(413, f"media is larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB.")
    voice = bool(spec.get("voice")) or mimetype.startswith("audio/ogg")
    return Media(filename=spec.get("filename") or None, mimetype=mimetype, data=data, voice=voice,
                 document=bool(spec.get("document")))


def location_from_json(spec) -> dict | None:
    if spec is None:
        return None
    try:
        lat, lng = float(spec["latitude"]), float(spec["longitude"])
    except (TypeError, KeyError, ValueError):
        raise WorldError(400, "location needs numeric latitude and longitude.")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise WorldError(400, "location latitude/longitude are out of range.")
    return {"latitude": lat, "longitude": lng, "name": spec.get("name"), "address": spec.get("address")}


def contact_from_json(spec) -> dict | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("phone"), str):
        raise WorldError(400, "contact needs name and phone (E.164).")
    return {"name": spec["name"], "phone": spec["phone"]}


CHAT_KINDS = ("direct", "group", "status", "newsletter")


def send(sb, sender: str, recipient: str, text: str = "", *, reply_to: str | None = None,
         media: Media | None = None, source: str = "app", via: tuple | None = None,
         location: dict | None = None, contact: dict | None = None, chat: str = "direct",
         group_name: str | None = None, timestamp: int | None = None, media_gone: bool = False,
         ago: int = 0) -> Message:
    world = sb.world
    if sender == recipient:
        raise WorldError(400, "from and to must be different numbers.")
    world.ensure_phone(sender)
    world.ensure_phone(recipient)
    if chat not in CHAT_KINDS:
        raise WorldError(400, f"chat must be one of {CHAT_KINDS}.")
    if not (text or "").strip() and media is None and location is None and contact is None:
        raise WorldError(400, "Send text, media or both.")
    quoted = None
    if reply_to:
        quoted = world.find_message(reply_to)
        if quoted is None or {quoted.sender, quoted.recipient} != {sender, recipient}:
            raise WorldError(404, f"reply_to {reply_to!r} is not a message of this chat.")
    device = "web" if source == "api" else ("android" if world.phones[sender].kind == "customer"
                                             and sender[-1] in "02468" else "ios")
    msg = world.add_message(sender, recipient, text or "", source=source,
                            reply_to=quoted.wa_id if quoted else None, media=media, device=device,
                            timestamp=timestamp)
    msg.via, msg.location, msg.contact, msg.chat_kind = via, location, contact, chat
    msg.media_gone = media_gone and media is not None  # WhatsApp lost the file before any gateway got it
    msg.timestamp -= max(0, int(ago or 0))  # a message the phone sent or got a while ago (gap tests)
    if chat in ("group", "newsletter"):
        msg.group_id = _stable_digits(group_name or f"{sender}-{recipient}", 18)
        world.groups[msg.group_id] = group_name or f"Group {msg.group_id[-4:]}"
    sb.message_created(msg)
    return msg


def timestamp_from_json(value) -> int | None:
    """A message written earlier (a phone that was offline delivers it now with its own time)."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise WorldError(400, "timestamp is Unix seconds (a number).")
    if value > time.time() + 5:
        raise WorldError(400, "timestamp is in the future; a message can only be dated back.")
    return int(value)


def _stable_digits(name: str, length: int) -> str:
    return "120363" + str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[: length - 6]


def edit(sb, ref: str, text: str, by: str | None = None) -> Message:
    msg = _own_message(sb.world, ref, by, "edit")
    if msg.media is None and not (text or "").strip():
        raise WorldError(400, "The new text is empty.")
    action_id = ids.wa_message_id("ios")
    msg.edits.append((action_id, msg.text, int(time.time())))
    msg.text = text or ""
    sb.message_edited(msg, action_id)
    return msg


def revoke(sb, ref: str, by: str | None = None) -> Message:
    msg = _own_message(sb.world, ref, by, "delete")
    if msg.revoked:
        raise WorldError(409, "That message is already deleted for everyone.")
    msg.revoked = True
    msg.revoke_id = ids.wa_message_id("ios")
    sb.message_revoked(msg)
    return msg


def _own_message(world, ref, by, verb) -> Message:
    msg = world.find_message(ref)
    if msg is None:
        raise WorldError(404, f"No message {ref!r}.")
    if msg.revoked:
        raise WorldError(409, f"Can't {verb} a message deleted for everyone.")
    if by and by != msg.sender:
        raise WorldError(403, f"Only the sender ({msg.sender}) can {verb} that message.")
    return msg
