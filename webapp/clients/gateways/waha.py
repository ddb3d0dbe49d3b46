"""WAHA (WhatsApp HTTP API) gateway: REST calls and webhook parsing (reference: waha.md).

Engine differences are avoided by reading the chat from the message id
(`{fromMe}_{chatId}_{shortId}[_{participant}]`), which is the same on every engine.
"""
import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit, urlunsplit

from webapp.clients.gateways import http
from webapp.clients.gateways.base import (
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
    media_failure,
    transport_errors,
)
from webapp.clients.gateways.formats import chat_kind, phone_jid, readable_location, readable_vcard

EVENTS = ("message.any", "message.edited", "message.revoked", "session.status")
# WAHA Core before this version serves only the session named `default`.
MULTI_SESSION_VERSION = (2026, 6, 1)
HISTORY_PAGE = 100
HISTORY_MAX = 5000


def _version_tuple(text):
    numbers = [int(n) for n in re.findall(r"\d+", text or "")[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def _seconds(value):
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def split_id(message_id):
    """(from_me, chat_jid, short_id) from a serialized WAHA id, or None."""
    parts = str(message_id or "").split("_")
    if len(parts) < 3 or parts[0] not in ("true", "false"):
        return None
    return parts[0] == "true", parts[1], parts[2]


def _participant(msg):
    """A group message's sender: the id's fourth part, else the payload's `participant`."""
    parts = str(msg.get("id") or "").split("_")
    if len(parts) >= 4 and parts[3]:
        return phone_jid(parts[3])
    author = msg.get("participant") or msg.get("author")
    return phone_jid(author) if isinstance(author, str) and author else None


_BASE64_RUN = re.compile(r"^[A-Za-z0-9+/=\s]{64,}$")


def _body_text(msg):
    """The message's own text. WEBJS puts a location's base64 thumbnail in `body`: that is no text."""
    body = str(msg.get("body") or "")
    if isinstance(msg.get("location"), dict) and _BASE64_RUN.match(body):
        return ""
    return body


def _push_name(data):
    """The sender's WhatsApp name: WEBJS notifyName, NOWEB pushName, GOWS Info.PushName."""
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    return str(data.get("notifyName") or data.get("pushName") or info.get("PushName") or "")[:200]


def normalize(msg, me=None):
    """A WAHA WAMessage (webhook or history) → GatewayMessage, or None when it isn't one."""
    if not isinstance(msg, dict):
        return None
    parts = split_id(msg.get("id"))
    if parts is None:
        return None
    from_me, chat, short = parts
    data = msg.get("_data") if isinstance(msg.get("_data"), dict) else {}
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    hint = key.get("remoteJidAlt")
    body = _body_text(msg)
    texts = [body] if body else []
    if isinstance(msg.get("location"), dict):
        texts.append(readable_location(msg["location"]))
    for card in msg.get("vCards") or []:
        texts.append(readable_vcard(card))
    media = []
    raw_media = msg.get("media") if isinstance(msg.get("media"), dict) else None
    if msg.get("hasMedia") and raw_media:
        # The gateway's own error object (stack, CDN URL…) is never kept: only what it means.
        error = raw_media.get("error")
        media.append(Media(url=raw_media.get("url"), mimetype=raw_media.get("mimetype") or "application/octet-stream",
                           filename=raw_media.get("filename"), error=media_failure(error) if error else None))
    elif msg.get("hasMedia"):
        media.append(Media(url=None, mimetype=_media_type(data)))
    reply = msg.get("replyTo") if isinstance(msg.get("replyTo"), dict) else None
    reply_from_me = False
    if reply and me:
        reply_from_me = reply.get("participant") in {me.get("id"), me.get("lid")} - {None}
    return GatewayMessage(
        short_id=short, chat_jid=phone_jid(chat), chat_kind=chat_kind(chat), from_me=from_me,
        sent_at=_seconds(msg.get("timestamp")), text="\n".join(texts),
        sender_name=_push_name(data),
        reply_to_short_id=(reply or {}).get("id"), reply_to_from_me=reply_from_me, media=media,
        phone_hint=_phone_or_none(hint), participant=_participant(msg) if chat_kind(chat) == "group" else None,
        participant_hint=_phone_or_none(key.get("participantAlt")))


def _phone_or_none(jid):
    return phone_jid(jid) if isinstance(jid, str) and jid.endswith(("@s.whatsapp.net", "@c.us")) else None


WEBJS_TYPES = {"image": "image/jpeg", "video": "video/mp4", "ptt": "audio/ogg", "audio": "audio/mpeg",
               "sticker": "image/webp", "document": "application/octet-stream"}


def _media_type(data):
    """A file the gateway did not download still says what it was (WEBJS `_data.type`)."""
    return WEBJS_TYPES.get(str(data.get("type") or ""), "application/octet-stream")


def serialized_id(message):
    """The WAHA id of a GatewayMessage (`{fromMe}_{chat}_{short}[_{participant}]`)."""
    sid = f"{'true' if message.from_me else 'false'}_{message.chat_jid}_{message.short_id}"
    return f"{sid}_{message.participant}" if message.participant else sid


def _status_time(payload, envelope):
    """When the status changed (ms in WAHA): the newest `statuses` entry, else the envelope's time."""
    stamps = [s.get("timestamp") for s in payload.get("statuses") or [] if isinstance(s, dict)
              and s.get("status") == payload.get("status")]
    stamp = (stamps or [envelope.get("timestamp")])[-1]
    try:
        return datetime.fromtimestamp(float(stamp) / 1000, tz=UTC) if stamp else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class Client(GatewayClient):
    kind = "waha"
    label = "WAHA"
    events = EVENTS
    can_restart = True

    # -- plumbing -----------------------------------------------------------------------------

    api_key_header = "X-Api-Key"
    setup_hints = {
        "unauthorized": "The gateway refused the API key (401). Copy WAHA_API_KEY from the gateway's settings.",
        "not_gateway": "This server does not answer like a WAHA gateway. Check the base URL "
                       "(e.g. http://waha.internal:3000, without /api).",
    }
    unauthorized_statuses = (401, 403)

    @staticmethod
    def _error_detail(body):
        detail = body.get("message") or body.get("error") if isinstance(body, dict) else None
        if isinstance(detail, list):
            detail = "; ".join(map(str, detail))
        if isinstance(detail, dict):
            detail = detail.get("message")
        return detail

    @staticmethod
    def _kind_error(status, body, detail):
        if status == 422 and "only 'default'" in detail:   # WAHA Core: its one error for any other name
            return GatewayError("single_session", detail, status)
        if status in (400, 422) and "store" in detail.lower() and "noweb" in detail.lower():
            # NOWEB without its store keeps no chats or messages: there is no history to read.
            return GatewayError("no_history", detail, status)
        if status == 422 and isinstance(body, dict) and body.get("status"):
            return GatewayError("session_state", f"The session is {body['status']}.", status)
        return None

    # -- server and sessions -----------------------------------------------------------------------

    def server_info(self):
        try:
            info = self._call("GET", "/api/server/version")
        except GatewayError as exc:
            if exc.kind == "not_found":
                raise GatewayError("not_gateway", "This server does not look like WAHA (no /api/server/version).",
                                   exc.status) from exc
            raise
        if not isinstance(info, dict) or not info.get("version"):
            raise GatewayError("not_gateway", "This server does not look like WAHA (no version in its answer).")
        sessions = self._call("GET", "/api/sessions", params={"all": "true"}) or []
        names = [s.get("name") for s in sessions if isinstance(s, dict)]
        version = str(info["version"])
        single = str(info.get("tier", "")).upper() == "CORE" and \
            _version_tuple(version) < MULTI_SESSION_VERSION
        return ServerInfo(version=version, sessions=names, single_session=single)

    def _config(self, webhook_url, hmac_key, metadata):
        return {
            "metadata": {k: str(v) for k, v in metadata.items()},
            "webhooks": [{
                "url": webhook_url, "events": list(self.events), "hmac": {"key": hmac_key},
                # 2+4+…+128 s: every retry lands inside WEBHOOK_MAX_AGE (5 minutes); gap
                # recovery fetches what the gateway gave up on.
                "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 7},
            }],
            "ignore": {"status": True, "groups": False, "channels": True, "broadcast": True},
            "noweb": {"store": {"enabled": True, "fullSync": False}},
        }

    def start_session(self, name, *, webhook_url, hmac_key, metadata):
        config = self._config(webhook_url, hmac_key, metadata)
        try:
            body = self._call("POST", "/api/sessions", json={"name": name, "start": True, "config": config})
        except GatewayError as exc:
            if exc.kind != "rejected" or "already exists" not in exc.message:
                raise
            # WAHA Core keeps a STOPPED `default` session: update it, then start it.
            self._call("PUT", f"/api/sessions/{self._s(name)}", json={"config": config})
            try:
                body = self._call("POST", f"/api/sessions/{self._s(name)}/start")
            except GatewayError as again:
                if "already started" not in again.message:
                    raise
                body = None
        return SessionState(status=(body or {}).get("status") or "STARTING")

    def session_state(self, name):
        body = self._call("GET", f"/api/sessions/{self._s(name)}") or {}
        return SessionState(status=body.get("status") or "", me=body.get("me"))

    def qr_png(self, name):
        response = self._call("GET", f"/api/{self._s(name)}/auth/qr", params={"format": "image"}, raw=True,
                              headers={"Accept": "image/png"})
        return response.content

    def qr_value(self, name):
        body = self._call("GET", f"/api/{self._s(name)}/auth/qr", params={"format": "raw"}) or {}
        return body.get("value") or ""

    def pairing_code(self, name, phone_digits):
        body = self._call("POST", f"/api/{self._s(name)}/auth/request-code",
                          json={"phoneNumber": phone_digits}) or {}
        return body.get("code") or ""

    def me(self, name):
        return self._call("GET", f"/api/sessions/{self._s(name)}/me")

    def restart_session(self, name):
        # waha.md §2.4: FAILED → restart → WORKING when the stored login still works, else SCAN_QR_CODE.
        body = self._call("POST", f"/api/sessions/{self._s(name)}/restart") or {}
        return SessionState(status=body.get("status") or "STARTING")

    def logout_and_delete(self, name):
        # DELETE stops, logs out (unlinks the device) and forgets the session.
        try:
            self._call("DELETE", f"/api/sessions/{self._s(name)}")
        except GatewayError as exc:
            if exc.kind != "not_found":
                raise

    # -- contacts, history, media -----------------------------------------------------------------

    def lid_to_phone(self, name, lid):
        body = self._call("GET", f"/api/{self._s(name)}/lids/{self._s(lid)}") or {}
        pn = body.get("pn")
        return phone_jid(pn) if pn else None

    def chats_since(self, name, since_ts):
        """[(chat jid, its last message's Unix seconds or None)] of the direct chats with a message
        at or after `since_ts`, newest first (the overview is sorted by last message)."""
        chats, offset = [], 0
        while True:
            page = self._call("GET", f"/api/{self._s(name)}/chats/overview",
                              params={"limit": HISTORY_PAGE, "offset": offset}) or []
            for chat in page:
                jid = chat.get("id") if isinstance(chat.get("id"), str) else (chat.get("id") or {}).get("_serialized")
                last = (chat.get("lastMessage") or {}).get("timestamp")
                last = float(last) if isinstance(last, (int, float)) and not isinstance(last, bool) else None
                if chat_kind(jid) == "direct" and (last is None or last >= since_ts):
                    chats.append((jid, last))
            if len(page) < HISTORY_PAGE:
                return chats
            oldest = (page[-1].get("lastMessage") or {}).get("timestamp")
            if oldest is not None and float(oldest) < since_ts:
                return chats  # sorted newest first: the rest is older
            offset += HISTORY_PAGE

    def active_chats(self, name, since_ts):
        """Direct chats with a message at or after `since_ts` (Unix seconds), newest first."""
        return [jid for jid, _ in self.chats_since(name, since_ts)]

    def message_pages(self, name, chat_jid, since_ts, me):
        """The chat's messages from `since_ts` on (inclusive), page by page, oldest first: (list of
        GatewayMessages, whether it is the last page). A page may hold no message of ours."""
        offset = 0
        while True:
            page = self._call("GET", f"/api/{self._s(name)}/chats/{self._s(chat_jid)}/messages", params={
                "limit": HISTORY_PAGE, "offset": offset, "downloadMedia": "true",
                "sortBy": "timestamp", "sortOrder": "asc", "filter.timestamp.gte": int(since_ts)}) or []
            offset += HISTORY_PAGE
            last = len(page) < HISTORY_PAGE or offset >= HISTORY_MAX
            yield [m for m in (normalize(raw, me) for raw in page) if m is not None], last
            if last:
                return

    def messages_since(self, name, chat_jid, since_ts, me):
        """Messages of a chat from `since_ts` on (inclusive), oldest first, as GatewayMessages."""
        return [message for page, _ in self.message_pages(name, chat_jid, since_ts, me) for message in page]

    def media_again(self, name, message, index=0):
        # waha.md §6.3/§7.2: the message fetched again with downloadMedia=true downloads a fresh file.
        body = self._call("GET", f"/api/{self._s(name)}/chats/{self._s(message.chat_jid)}/messages/"
                                 f"{self._s(serialized_id(message))}", params={"downloadMedia": "true"})
        again = normalize(body)
        return again.media[index] if again is not None and len(again.media) > index else None

    def contact_name(self, name, jid):
        # waha.md §7.3: WEBJS answers with pushname/name, NOWEB with {id, name?, pushname?}, or null.
        try:
            body = self._call("GET", "/api/contacts", params={"session": name, "contactId": jid})
        except GatewayError as exc:
            if exc.kind in ("unreachable", "server"):
                raise
            return ""
        body = body if isinstance(body, dict) else {}
        return str(body.get("pushname") or body.get("pushName") or body.get("name") or "")[:200]

    def chat_name(self, name, jid):
        try:
            rows = self._call("GET", f"/api/{self._s(name)}/chats/overview", params={"ids": jid, "limit": 1})
        except GatewayError as exc:
            if exc.kind in ("unreachable", "server"):
                raise
            return ""
        row = next((r for r in rows or [] if isinstance(r, dict)), {})
        return str(row.get("name") or "")[:200]

    def _rebase(self, url):
        # media.url carries WAHA_BASE_URL, often `localhost` behind Docker: fetch the same file from
        # the base URL Closeline was given (keeping a reverse-proxy path prefix, if any).
        parts, base = urlsplit(url or ""), urlsplit(self.base_url)
        marker = parts.path.find("/api/files/")
        if marker < 0 or ".." in unquote(unquote(parts.path)):   # %2e%2e and %252e%252e too
            raise GatewayError("rejected", "The media URL is not a file of this gateway.")
        path = base.path.rstrip("/") + parts.path[marker:]
        return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))

    def download_media(self, media):
        url = self._rebase(media.url)
        headers = {self.api_key_header: self.api_key} if self.api_key else {}
        try:
            with transport_errors():
                got = http.download(url, headers=headers)
        except http.DownloadFailed as exc:
            kind = "not_found" if exc.status == 404 else "unauthorized" if exc.status in (401, 403) else \
                "server" if (exc.status or 0) >= 500 else "rejected"
            raise GatewayError(kind, f"media download failed (HTTP {exc.status})" if exc.status else
                               "media download failed", exc.status) from exc
        return got.content, (media.mimetype or got.content_type)

    # -- webhooks -----------------------------------------------------------------------------------

    @staticmethod
    def signature_ok(raw, headers, key):
        signature = (headers.get("X-Webhook-Hmac") or "").strip().lower()
        algorithm = (headers.get("X-Webhook-Hmac-Algorithm") or "sha512").strip().lower()
        if not key or not signature or algorithm != "sha512" or headers.get("X-Webhook-Hmac-Version"):
            return False
        expected = hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode())

    @staticmethod
    def sent_at(envelope, headers):
        # The envelope's `timestamp` (ms) is inside the signed body and stays the same on retries.
        stamp = envelope.get("timestamp") if isinstance(envelope, dict) else None
        if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
            return None
        try:
            return datetime.fromtimestamp(stamp / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return datetime.fromtimestamp(0, tz=UTC)  # absurd: as good as stale

    def dedupe_key(self, envelope):
        event, payload = envelope.get("event"), envelope.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        session = str(envelope.get("session") or "")
        if event in ("message", "message.any") and payload.get("id"):
            return f"{session}:msg:{payload['id']}"[:250]
        if event == "message.edited" and payload.get("id"):
            return f"{session}:edit:{payload['id']}:{payload.get('editedMessageId', '')}"[:250]
        if event == "message.revoked":
            after = payload.get("after") if isinstance(payload.get("after"), dict) else {}
            ref = payload.get("revokedMessageId") or after.get("id")
            return f"{session}:revoke:{ref}"[:250] if ref else None
        if envelope.get("id"):
            return f"{session}:evt:{envelope['id']}"[:250]
        return None

    def parse_webhook(self, envelope):
        event = envelope.get("event")
        payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
        me = envelope.get("me") if isinstance(envelope.get("me"), dict) else None
        if event in ("message", "message.any"):
            message = normalize(payload, me)
            if message is None:
                return [IgnoredEvent("not a message payload")]
            return [MessageEvent(message)]
        if event == "message.edited":
            parts = split_id(payload.get("id"))
            if parts is None or not payload.get("editedMessageId"):
                return [IgnoredEvent("edit without a message id")]
            from_me, chat, _ = parts
            return [EditEvent(phone_jid(chat), bool(payload.get("fromMe", from_me)),
                              str(payload["editedMessageId"]), str(payload.get("body") or ""))]
        if event == "message.revoked":
            return [self._revoke(payload)]
        if event == "session.status":
            return [StatusEvent(str(payload.get("status") or ""), me, _status_time(payload, envelope))]
        return [IgnoredEvent(f"event {event!r} is not used")]

    @staticmethod
    def _revoke(payload):
        action = payload.get("after") if isinstance(payload.get("after"), dict) else \
            payload.get("before") if isinstance(payload.get("before"), dict) else {}
        parts = split_id(action.get("id"))
        if parts is None:
            return IgnoredEvent("revoke without a message id")
        from_me, chat, action_short = parts
        # WEBJS may give the original id as the action id and omit revokedMessageId.
        return RevokeEvent(phone_jid(chat), bool(action.get("fromMe", from_me)),
                           str(payload.get("revokedMessageId") or action_short))
