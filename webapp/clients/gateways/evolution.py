"""Evolution API v2 gateway (Baileys instances): REST calls and webhook parsing (reference:
evolution-api.md).

Evolution does not sign webhooks: Closeline sets a per-instance secret as a custom webhook header
and compares it in constant time. Payload shapes moved between 2.3.x releases (LID swap, binary
and 64-bit serialization, enum names or numbers); the parser accepts all of them. Edits and
deletions are correlated by WhatsApp message id only (their key is in the editor's perspective).
"""
import base64
import binascii
import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from webapp.clients.gateways.base import (
    FAILED,
    FILE_GONE,
    QR,
    RECONNECTING,
    STARTING,
    WORKING,
    EditEvent,
    GatewayClient,
    GatewayError,
    GatewayMessage,
    IgnoredEvent,
    Media,
    MessageEvent,
    RevokeEvent,
    ServerInfo,
    SessionState,
    StatusEvent,
)
from webapp.clients.gateways.formats import chat_kind, phone_jid, readable_location, readable_vcard

# Evolution signs no body. With `jwt_key` in the webhook's headers it sends, on every request
# (retries included), a fresh HS256 token signed with that secret (iat, exp = iat + 600 s): a
# per-instance secret that a captured request can't be replayed with for long. Instances set up
# before kept a static secret header (SECRET_HEADER), still accepted until they are relinked.
SECRET_HEADER = "X-Closeline-Webhook-Secret"
JWT_HEADER = "jwt_key"
# Config names; MESSAGES_UPDATE is left out (acks are not synced; 2.3.7 repeats edits in MESSAGES_EDITED).
# MESSAGES_SET is the history sync after linking: what the phone received while it was not linked.
EVENTS = ("MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED", "MESSAGES_DELETE", "CONNECTION_UPDATE",
          "MESSAGES_SET")
LICENCE_REQUIRED = ("Activate the gateway's licence: Evolution API 2.4 serves nothing until its operator activates "
                    "it in the gateway's manager. Nothing to relink, and nothing is lost: messages are fetched once "
                    "it is active.")
# What a failed media download becomes in the Close activity: a plain reason, never the gateway's text.
MEDIA_GONE = FILE_GONE
MEDIA_NOT_MEDIA = "the gateway has no file for this message"
HISTORY_PAGE = 100
HISTORY_MAX = 5000
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
            "documentWithCaptionMessage", "editedMessage")
MEDIA_KEYS = {"imageMessage": "image", "videoMessage": "video", "audioMessage": "audio",
              "documentMessage": "document", "stickerMessage": "sticker", "ptvMessage": "video"}
EDIT_TYPES = ("MESSAGE_EDIT", 14, "14")
REVOKE_TYPES = ("REVOKE", 0, "0")


def number_value(value):
    """Evolution's 64-bit values: plain numbers, decimal strings or Long objects {low, high}."""
    if isinstance(value, dict) and "low" in value:
        return (int(value.get("high") or 0) << 32) + (int(value["low"]) % 2 ** 32)
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _seconds(value):
    stamp = number_value(value)
    try:
        return datetime.fromtimestamp(stamp, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _baileys_jid(jid):
    """Closeline's chat id form (<digits>@c.us) back in Evolution's (<digits>@s.whatsapp.net)."""
    return jid[:-5] + "@s.whatsapp.net" if isinstance(jid, str) and jid.endswith("@c.us") else jid


def _deleted_row(record):
    key = record.get("key") if isinstance(record.get("key"), dict) else {}
    updates = record.get("MessageUpdate") if isinstance(record.get("MessageUpdate"), list) else []
    return bool(key.get("deleted")) or record.get("status") == "DELETED" or \
        any(isinstance(u, dict) and u.get("status") == "DELETED" for u in updates)


def _dated_by_original(message, record):
    """An edited row carries the edit's time as its messageTimestamp (Evolution updates the row in
    place); a file's media key keeps the time it was first sent. Text rows keep no original time."""
    updates = record.get("MessageUpdate") if isinstance(record.get("MessageUpdate"), list) else []
    if not any(isinstance(u, dict) and u.get("status") == "EDITED" for u in updates):
        return message
    content = unwrap(record.get("message"))
    stamps = [number_value(body.get("mediaKeyTimestamp")) for key in MEDIA_KEYS
              if isinstance(body := content.get(key), dict)]
    original = min([s for s in stamps if s], default=None)
    if original and original < message.sent_at.timestamp():
        return dataclasses.replace(message, sent_at=datetime.fromtimestamp(original, UTC))
    return message


def _is_phone(jid):
    return isinstance(jid, str) and jid.endswith(("@s.whatsapp.net", "@c.us"))


def _digits(jid):
    return str(jid or "").split("@")[0].split(":")[0]


def unwrap(message):
    """The content object under ephemeral / view-once / document-with-caption wrappers."""
    for _ in range(5):
        if not isinstance(message, dict):
            return {}
        inner = next((message[k].get("message") for k in WRAPPERS
                      if isinstance(message.get(k), dict) and isinstance(message[k].get("message"), dict)), None)
        if inner is None:
            return message
        message = inner
    return message if isinstance(message, dict) else {}


def content_text(content):
    """Readable text of a message's content (text, caption, location, contact cards)."""
    if isinstance(content.get("conversation"), str):
        return content["conversation"]
    extended = content.get("extendedTextMessage")
    if isinstance(extended, dict) and isinstance(extended.get("text"), str):
        return extended["text"]
    for key in MEDIA_KEYS:
        if isinstance(content.get(key), dict) and isinstance(content[key].get("caption"), str):
            return content[key]["caption"]
    location = content.get("locationMessage") or content.get("liveLocationMessage")
    if isinstance(location, dict):
        return readable_location({"latitude": location.get("degreesLatitude"),
                                  "longitude": location.get("degreesLongitude"), "name": location.get("name"),
                                  "address": location.get("address"), "url": location.get("url")})
    if isinstance(content.get("contactMessage"), dict):
        return readable_vcard(content["contactMessage"].get("vcard") or "")
    if isinstance(content.get("contactsArrayMessage"), dict):
        cards = content["contactsArrayMessage"].get("contacts") or []
        return "\n".join(readable_vcard(c.get("vcard") or "") for c in cards if isinstance(c, dict))
    return ""


def _context(data, content):
    if isinstance(data.get("contextInfo"), dict):
        return data["contextInfo"]
    for value in content.values():
        if isinstance(value, dict) and isinstance(value.get("contextInfo"), dict):
            return value["contextInfo"]
    return {}


def chat_of(key):
    """(chat jid, phone hint) of a 1:1 or group key, across the 2.3.x / 2.4.0 LID variants."""
    remote = key.get("remoteJid") if isinstance(key.get("remoteJid"), str) else ""
    if remote.endswith("@lid"):
        hint = next((key.get(k) for k in ("remoteJidAlt", "senderPn") if _is_phone(key.get(k))), None)
        return remote, phone_jid(hint) if hint else None
    if not remote and _is_phone(key.get("previousRemoteJid")):
        remote = key["previousRemoteJid"]
    return phone_jid(remote), None


def normalize(data, instance, me=None):
    """A messages.upsert / send.message / stored row → GatewayMessage, or None (reactions,
    protocol messages, anything without a key)."""
    if not isinstance(data, dict) or not isinstance(data.get("key"), dict) or not data["key"].get("id"):
        return None
    key = data["key"]
    content = unwrap(data.get("message"))
    if any(k in content for k in ("protocolMessage", "reactionMessage", "pollUpdateMessage")):
        return None
    chat, hint = chat_of(key)
    text = content_text(content)
    media = []
    for name, kind in MEDIA_KEYS.items():
        body = content.get(name)
        if isinstance(body, dict):
            media.append(Media(url=None, mimetype=str(body.get("mimetype") or f"{kind}/octet-stream"),
                               filename=body.get("fileName") if isinstance(body.get("fileName"), str) else None,
                               ref={"instance": instance, "key": key, "message": data.get("message")}))
    if not text and not media and data.get("messageType") not in (None, "conversation", "unknown"):
        text = f"[{str(data['messageType'])[:40]}]"  # polls, buttons…: noted, not dropped
    context = _context(data, content)
    quoted = context.get("stanzaId") if isinstance(context.get("stanzaId"), str) else None
    reply_from_me = bool(quoted) and _quoted_is_mine(context.get("participant"), key, chat, hint, me)
    from_me = bool(key.get("fromMe"))
    return GatewayMessage(
        short_id=str(key["id"]), chat_jid=chat, chat_kind=chat_kind(chat), from_me=from_me,
        sent_at=_seconds(data.get("messageTimestamp")), text=text,
        sender_name="" if from_me else str(data.get("pushName") or "")[:200],
        reply_to_short_id=quoted, reply_to_from_me=reply_from_me, media=media, phone_hint=hint)


def _quoted_is_mine(participant, key, chat, hint, me):
    """Whose message a reply quotes, in a 1:1 chat: the customer's or mine. In a LID-addressed chat
    WhatsApp names the quoted author by LID, mine included; a LID that is not the customer's (nor the
    customer's phone) is mine. The inbox checks the answer against the messages it holds."""
    participant = participant if isinstance(participant, str) else ""
    mine = {_digits((me or {}).get(k)) for k in ("id", "lid")} - {""}
    if _digits(participant) in mine:
        return True
    if not participant.endswith("@lid"):
        return False
    theirs = {_digits(chat), _digits(hint)} | {_digits(key.get(k)) for k in ("remoteJid", "remoteJidAlt", "senderPn")}
    return _digits(participant) not in theirs - {""}


def _status_event(data):
    data = data if isinstance(data, dict) else {}
    state = data.get("state")
    if state == "open":
        me = {"id": phone_jid(data["wuid"]), "pushName": data.get("profileName")} if data.get("wuid") else None
        return StatusEvent(WORKING, me)
    if state in ("close", "refused"):
        return StatusEvent(FAILED)
    # `connecting` is both the QR phase and Baileys' own reconnect after a drop (428, 408, 515…; no
    # close webhook comes first): the link page tells which from the link's state. A reconnect that
    # never succeeds is caught by the health check's liveness probe, not by this event.
    return StatusEvent(RECONNECTING)


def _edited_text(edited):
    return content_text(unwrap(edited if isinstance(edited, dict) else {}))


def _bearer(headers):
    value = headers.get("Authorization") or ""
    return value[7:].strip() if value.lower().startswith("bearer ") else ""


def _webhook_token_claims(headers, key):
    """The claims of Evolution's per-request webhook token when it is signed with `key` and not
    expired, else None."""
    token = _bearer(headers)
    if not token:
        return None
    try:
        claims = jwt.decode(token, OctKey.import_key(key), algorithms=["HS256"]).claims
        jwt.JWTClaimsRegistry(exp={"essential": True}, iat={"essential": True}).validate(claims)
    except (JoseError, ValueError):
        return None
    return claims if claims.get("app") == "evolution" else None


def download_failure(exc):
    """A failed download as the GatewayError the inbox acts on, in plain words. `missing`: the
    message is not a file. `gone`: the download failed (expired on WhatsApp's servers, or a
    passing CDN failure); the inbox retries the event while it is young, then notes the reason."""
    detail = str(getattr(exc, "message", "") or "").lower()
    if "not of the media type" in detail:
        return GatewayError("missing", MEDIA_NOT_MEDIA, getattr(exc, "status", None))
    return GatewayError("gone", MEDIA_GONE, getattr(exc, "status", None))


class Client(GatewayClient):
    kind = "evolution"
    label = "Evolution API"
    events = EVENTS

    # -- plumbing -----------------------------------------------------------------------------

    api_key_header = "apikey"
    accounts_word = "instances"
    setup_hints = {
        "unauthorized": "The gateway refused the API key (401). Use the global key "
                        "(AUTHENTICATION_API_KEY), not an instance token.",
        "not_gateway": "This server does not answer like Evolution API v2. Check the base URL "
                       "(e.g. http://evolution.internal:8080).",
        "licence": LICENCE_REQUIRED,
    }

    @staticmethod
    def _kind_error(status, body, detail):
        if status == 503 and isinstance(body, dict) and body.get("code") == "LICENSE_REQUIRED":
            return GatewayError("licence", LICENCE_REQUIRED, status)
        return None

    @staticmethod
    def _error_detail(body):
        detail = body.get("response", {}).get("message") if isinstance(body, dict) and \
            isinstance(body.get("response"), dict) else (body.get("message") if isinstance(body, dict) else None)
        while isinstance(detail, list) and detail:
            detail = detail[0]
        return detail

    # -- server and instances ----------------------------------------------------------------------

    def server_info(self):
        try:
            info = self._call("GET", "/")
        except GatewayError as exc:
            if exc.kind in ("not_found", "rejected", "not_gateway"):
                raise GatewayError("not_gateway", "This server does not look like Evolution API.", exc.status) from exc
            raise
        if not isinstance(info, dict) or "evolution" not in str(info.get("message", "")).lower() \
                or not info.get("version"):
            raise GatewayError("not_gateway", "This server does not look like Evolution API (no welcome answer).")
        rows = self._call("GET", "/instance/fetchInstances") or []
        names = [r.get("name") for r in rows if isinstance(r, dict)]
        return ServerInfo(version=str(info["version"]), sessions=names, single_session=False)

    def _webhook(self, webhook_url, secret):
        # enabled:true explicitly (a known Manager quirk switches it off); no base64: media is
        # fetched per message, so webhook bodies stay small.
        return {"enabled": True, "url": webhook_url, "headers": {JWT_HEADER: secret},
                "byEvents": False, "base64": False, "events": list(self.events)}

    def start_session(self, name, *, webhook_url, hmac_key, metadata):
        body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": True,
                "groupsIgnore": False, "readMessages": False, "syncFullHistory": False,
                "webhook": self._webhook(webhook_url, hmac_key)}
        try:
            created = self._call("POST", "/instance/create", json=body) or {}
        except GatewayError as exc:
            if exc.status != 403:
                raise
            # The name exists (a relink of the same instance): point its webhook at us and connect.
            self._call("POST", f"/webhook/set/{self._s(name)}", json={"webhook": self._webhook(webhook_url, hmac_key)})
            connected = self._call("GET", f"/instance/connect/{self._s(name)}") or {}
            return SessionState(status=QR if connected.get("code") else STARTING)
        status = (created.get("instance") or {}).get("status")
        return SessionState(status=QR if (created.get("qrcode") or {}).get("code") or status == "connecting"
                            else STARTING)

    def _row(self, name):
        rows = self._call("GET", "/instance/fetchInstances", params={"instanceName": name}) or []
        return next((r for r in rows if isinstance(r, dict) and r.get("name") == name), None)

    def session_state(self, name):
        body = self._call("GET", f"/instance/connectionState/{self._s(name)}") or {}
        state = (body.get("instance") or {}).get("state")
        if state == "open":
            return SessionState(status=WORKING, me=self.me(name))
        if state == "close":
            return SessionState(status=FAILED)
        if state == "connecting":
            # Waiting for a scan shows a QR code; a linked number reconnecting shows none. (The
            # stored ownerJid can't tell: it outlives a logout.)
            return SessionState(status=QR if self._qr(name).get("code") else RECONNECTING)
        return SessionState(status=STARTING)

    def _qr(self, name, number=None):
        body = self._call("GET", f"/instance/connect/{self._s(name)}",
                          params={"number": number} if number else None) or {}
        if body.get("error"):
            raise GatewayError("session_state", str(body.get("message") or "connect failed"))
        return body

    def qr_png(self, name):
        data_url = self._qr(name).get("base64") or ""
        if not data_url.startswith("data:image/png;base64,"):
            raise GatewayError("session_state", "No QR code yet.")
        try:
            return base64.b64decode(data_url.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise GatewayError("rejected", "The gateway sent an unreadable QR image.") from exc

    def qr_value(self, name):
        return self._qr(name).get("code") or ""

    def pairing_code(self, name, phone_digits):
        """Evolution makes a pairing code only for a socket opened with `number` (create, or connect
        from `close`); a connect?number= while it already shows a QR, or a restart, adds none. So an
        instance that is not pairing for this number is made again with it, its webhook kept."""
        row = self._row(name) or {}
        code = self._qr(name).get("pairingCode")
        if code and _digits(row.get("number")) == phone_digits:
            return code
        if row.get("connectionStatus") == "open":
            raise GatewayError("session_state", "This number is already linked.")
        self._recreate_for_pairing(name, phone_digits)
        code = self._qr(name).get("pairingCode")
        if not code:
            raise GatewayError("session_state", "The gateway gave no pairing code.")
        return code

    def _recreate_for_pairing(self, name, phone_digits):
        hook = self._call("GET", f"/webhook/find/{self._s(name)}") or {}
        webhook = {"enabled": True, "url": hook.get("url"), "headers": hook.get("headers") or {},
                   "byEvents": bool(hook.get("webhookByEvents")), "base64": bool(hook.get("webhookBase64")),
                   "events": list(self.events)}
        # The webhook goes quiet first, so the deletion's close event does not read as a logout.
        self._call("POST", f"/webhook/set/{self._s(name)}", json={"webhook": {**webhook, "enabled": False}})
        self._call("DELETE", f"/instance/delete/{self._s(name)}")
        self._call("POST", "/instance/create", json={
            "instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": True, "number": phone_digits,
            "groupsIgnore": False, "readMessages": False, "syncFullHistory": False, "webhook": webhook})

    def restart_session(self, name):
        """A new socket for a linked instance (its session stays: no new QR)."""
        answer = self._call("POST", f"/instance/restart/{self._s(name)}") or {}
        if isinstance(answer, dict) and answer.get("error"):
            raise GatewayError("session_state", "The gateway could not restart the connection.")

    def probe(self, name, phone_digits):
        """A call that needs the instance's live socket (a WhatsApp round trip): connectionState can
        say `open` for a socket that died without noticing. True when WhatsApp answered."""
        try:
            self._call("POST", f"/chat/fetchProfile/{self._s(name)}", json={"number": phone_digits})
        except GatewayError as exc:
            if exc.kind in ("unreachable", "refused", "unauthorized", "licence", "not_found"):
                raise
            return False
        return True

    def me(self, name):
        row = self._row(name) or {}
        # ownerJid outlives a logout: only an open instance's owner is the linked number.
        owner = row.get("ownerJid") if row.get("connectionStatus") in (None, "open") else None
        return {"id": phone_jid(owner), "pushName": row.get("profileName")} if owner else None

    def logout_and_delete(self, name):
        # delete logs out (unlinks the device) and removes the instance with its stored messages.
        try:
            self._call("DELETE", f"/instance/delete/{self._s(name)}")
        except GatewayError as exc:
            if exc.kind != "not_found":
                raise

    # -- contacts, history, media -----------------------------------------------------------------

    def _find(self, name, where, page):
        body = self._call("POST", f"/chat/findMessages/{self._s(name)}",
                          json={"where": where, "page": page, "offset": HISTORY_PAGE}) or {}
        block = body.get("messages") if isinstance(body.get("messages"), dict) else {}
        return block.get("records") or [], int(block.get("pages") or 1)

    def lid_to_phone(self, name, lid):
        """Evolution has no LID API: stored messages of the chat carry the phone in remoteJidAlt."""
        records, _ = self._find(name, {"key": {"remoteJid": lid, "remoteJidAlt": lid}}, 1)
        for record in records:
            key = record.get("key") if isinstance(record, dict) else None
            if isinstance(key, dict) and key.get("remoteJid") == lid:
                hint = next((key.get(k) for k in ("remoteJidAlt", "senderPn") if _is_phone(key.get(k))), None)
                if hint:
                    return phone_jid(hint)
        return None

    def chats_since(self, name, since_ts):
        """[(chat jid, last message Unix seconds or None)] of direct chats active since `since_ts`,
        newest first; findChats pages with take/skip."""
        chats, skip = [], 0
        while True:
            rows = self._call("POST", f"/chat/findChats/{self._s(name)}",
                              json={"where": {}, "take": HISTORY_PAGE, "skip": skip}) or []
            rows = rows if isinstance(rows, list) else []
            oldest = None
            for row in rows:
                if not isinstance(row, dict):
                    continue
                last = number_value((row.get("lastMessage") or {}).get("messageTimestamp"))
                oldest = last if last is not None else oldest
                if chat_kind(row.get("remoteJid")) == "direct" and (last is None or last >= since_ts):
                    chats.append((row["remoteJid"], last))
            if len(rows) < HISTORY_PAGE or (oldest is not None and oldest < since_ts):
                return chats
            skip += HISTORY_PAGE

    def active_chats(self, name, since_ts):
        return [phone_jid(jid) for jid, _ in self.chats_since(name, since_ts)]  # one form: <digits>@c.us

    def message_pages(self, name, chat_jid, since_ts, me):
        """The chat's messages from `since_ts` on, page by page, oldest first, as (messages, whether
        it is the last page). findMessages sorts
        newest first, so its pages are read last to first inside a window fixed at the first call
        (messages arriving meanwhile fall after it and cannot shift the pages). Its remoteJid filter
        is unreliable (an OR across remoteJid/remoteJidAlt), so rows are filtered again here."""
        chat_jid = _baileys_jid(chat_jid)
        where = {"key": {"remoteJid": chat_jid, "remoteJidAlt": chat_jid},
                 "messageTimestamp": {"gte": datetime.fromtimestamp(int(since_ts), UTC).isoformat(),
                                      "lte": datetime.now(UTC).isoformat()}}
        wanted = {chat_jid, phone_jid(chat_jid)}
        newest, pages = self._find(name, where, 1)
        last_page = min(pages, HISTORY_MAX // HISTORY_PAGE)
        for page in range(last_page, 1, -1):
            records, _ = self._find(name, where, page)
            yield self._page_messages(name, records, wanted, since_ts, me), False
        yield self._page_messages(name, newest, wanted, since_ts, me), True

    def _page_messages(self, name, records, wanted, since_ts, me):
        found = []
        for record in records:
            key = record.get("key") if isinstance(record, dict) else {}
            if not ({key.get("remoteJid"), key.get("remoteJidAlt"), phone_jid(key.get("remoteJid"))} & wanted):
                continue
            if _deleted_row(record):
                continue  # deleted for everyone: Evolution keeps the row, marked
            if (number_value(record.get("messageTimestamp")) or 0) < since_ts:
                continue
            message = normalize(record, name, me)
            if message is not None:
                found.append(_dated_by_original(message, record))
        found.sort(key=lambda m: m.sent_at)
        return found

    def messages_since(self, name, chat_jid, since_ts, me):
        """Messages of a chat from `since_ts` on, oldest first."""
        return [message for page, _ in self.message_pages(name, chat_jid, since_ts, me) for message in page]

    def download_media(self, media):
        """The file through getBase64FromMediaMessage: with the full message (no store needed), then
        by id (Evolution's stored copy). Its failures carry WhatsApp CDN addresses and raw error
        names; they leave here as plain reasons (download_failure)."""
        ref = media.ref or {}
        path = f"/chat/getBase64FromMediaMessage/{self._s(ref.get('instance') or '')}"
        bodies = ({"message": {"key": ref.get("key"), "message": ref.get("message")}, "convertToMp4": False},
                  {"message": {"key": {"id": (ref.get("key") or {}).get("id")}}, "convertToMp4": False})
        failure = None
        for body in bodies:
            try:
                answer = self._call("POST", path, json=body) or {}
            except GatewayError as exc:
                if exc.kind in ("unreachable", "server", "refused", "unauthorized", "licence"):
                    raise
                failure = exc
                continue
            try:
                data = base64.b64decode(answer.get("base64") or "", validate=True)
            except (binascii.Error, ValueError):
                data = b""
            if data:
                return data, (answer.get("mimetype") or media.mimetype)
        raise download_failure(failure)

    # -- webhooks -----------------------------------------------------------------------------------

    @staticmethod
    def signature_ok(raw, headers, key):
        if not key:
            return False
        claims = _webhook_token_claims(headers, key)
        if claims is not None:
            return True
        given = headers.get(SECRET_HEADER) or ""
        return bool(given) and hmac.compare_digest(given.encode(), key.encode())

    @staticmethod
    def session_of(envelope):
        return envelope.get("instance")

    def dedupe_key(self, envelope):
        event, data = envelope.get("event"), envelope.get("data")
        data = data if isinstance(data, dict) else {}
        instance = str(envelope.get("instance") or "")
        key = data.get("key") if isinstance(data.get("key"), dict) else {}
        if event in ("messages.upsert", "send.message") and key.get("id"):
            return f"{instance}:msg:{key['id']}"[:250]
        if event == "messages.edited" and key.get("id"):
            if data.get("type") in REVOKE_TYPES:
                return f"{instance}:revoke:{key['id']}"[:250]
            digest = hashlib.sha1(_edited_text(data.get("editedMessage")).encode()).hexdigest()[:16]
            return f"{instance}:edit:{key['id']}:{digest}"[:250]
        if event == "messages.update" and data.get("keyId") and isinstance(data.get("message"), dict):
            edited = (data["message"].get("editedMessage") or {}).get("message")
            digest = hashlib.sha1(_edited_text(edited).encode()).hexdigest()[:16]
            return f"{instance}:edit:{data['keyId']}:{digest}"[:250]
        if event == "messages.delete":
            ref = key.get("id") or data.get("id")
            return f"{instance}:revoke:{ref}"[:250] if ref else None
        if event == "messages.set" and isinstance(envelope.get("data"), list):
            ids = ",".join(sorted(str((m.get("key") or {}).get("id")) for m in envelope["data"] if isinstance(m, dict)))
            return f"{instance}:set:{hashlib.sha1(ids.encode()).hexdigest()}" if ids else None
        return None

    def parse_webhook(self, envelope):
        event, data = envelope.get("event"), envelope.get("data")
        instance = str(envelope.get("instance") or "")
        me = {"id": phone_jid(envelope["sender"])} if isinstance(envelope.get("sender"), str) else None
        if event in ("messages.upsert", "send.message"):
            message = normalize(data, instance, me)
            return [MessageEvent(message)] if message else [IgnoredEvent("reaction or protocol message")]
        if event == "connection.update":
            return [_status_event(data)]
        if event == "messages.set":
            found = [normalize(row, instance, me) for row in (data if isinstance(data, list) else [])
                     if isinstance(row, dict) and not _deleted_row(row)]
            return [MessageEvent(m, history=True) for m in found if m is not None] or \
                [IgnoredEvent("history sync without messages")]
        data = data if isinstance(data, dict) else {}
        if event == "messages.edited":
            key = data.get("key") if isinstance(data.get("key"), dict) else {}
            if not key.get("id"):
                return [IgnoredEvent("edit without a message id")]
            if data.get("type") in REVOKE_TYPES:
                return [RevokeEvent(None, bool(key.get("fromMe")), str(key["id"]))]
            if data.get("type") in EDIT_TYPES:
                return [EditEvent(None, bool(key.get("fromMe")), str(key["id"]), _edited_text(data.get("editedMessage")))]
            return [IgnoredEvent(f"protocol message {data.get('type')!r}")]
        if event == "messages.update":
            edited = (data.get("message") or {}).get("editedMessage") if isinstance(data.get("message"), dict) else None
            if data.get("keyId") and isinstance(edited, dict):
                return [EditEvent(None, bool(data.get("fromMe")), str(data["keyId"]), _edited_text(edited.get("message")))]
            return [IgnoredEvent("delivery status")]
        if event == "messages.delete":
            # Two shapes: the bare key (id = WhatsApp id), or a stored row (key.id; id = row id).
            key = data.get("key") if isinstance(data.get("key"), dict) else data
            if not key.get("id"):
                return [IgnoredEvent("delete without a message id")]
            return [RevokeEvent(None, bool(key.get("fromMe")), str(key["id"]))]
        return [IgnoredEvent(f"event {event!r} is not used")]
