"""The interface every gateway kind implements, and the normalized shapes it returns.

A gateway kind (WAHA, Evolution API, …) is one module in this package defining a subclass of
`GatewayClient`, listed in `registry.py`. Services and jobs only see this interface; webhook
payloads are turned into the event dataclasses below by the client's `parse_webhook`.
"""
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from urllib.parse import quote

from webapp.clients.gateways import http

# Gateway-side session statuses every kind maps onto.
STARTING, QR, WORKING, FAILED, STOPPED = "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED", "STOPPED"
# A linked account whose connection to WhatsApp dropped and is coming back by itself.
RECONNECTING = "RECONNECTING"


# Said when the gateway's address is not one Closeline may call (private and not listed by the operator).
REFUSED = ("Closeline does not call this address: it is private (or a port that is not allowed). "
           "A gateway beside Closeline needs its host:port in the operator's GATEWAY_ALLOWED_HOSTS setting.")

UNSENDABLE_KEY = ("The stored API key holds characters an HTTP header cannot carry: remove this gateway "
                  "and add it again with the key as the gateway shows it.")


class GatewayError(Exception):
    """A gateway call failed. `kind`: unreachable | refused (address not allowed) | unauthorized | not_gateway | not_found |
    session_state | single_session (serves only the session `default`) | no_history (keeps no
    chats or messages, e.g. WAHA NOWEB without its store) | licence (the gateway's own licence is not
    activated) | rejected | server."""

    def __init__(self, kind, message, status=None):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


@contextmanager
def transport_errors():
    """The transport's failures (refused address, a key no header can carry, no answer) as the
    GatewayError every caller handles: one translation for API calls and downloads."""
    try:
        yield
    except http.GatewayRefused as exc:
        raise GatewayError("refused", REFUSED) from exc
    except http.UnsendableKey as exc:
        raise GatewayError("unauthorized", UNSENDABLE_KEY) from exc
    except http.GatewayUnreachable as exc:
        raise GatewayError("unreachable", f"The gateway does not answer ({exc}).") from exc


# -- a file that could not be fetched, in one plain sentence --------------------------------------------
# Gateways report media failures as raw error objects (stack traces, CDN URLs, codes); none of that
# belongs in a Close activity. Every kind maps its failure through media_failure() instead.

FILE_GONE = "the file is no longer on the gateway"
NOT_DOWNLOADED = "the gateway did not download it (its media settings may skip this kind of file)"
NOT_FROM_WHATSAPP = "the gateway could not get it from WhatsApp (it may have expired there)"
TOO_LARGE = "over Close's 25 MB limit"

_FAILURE_BY_KIND = {
    "not_found": FILE_GONE,
    "gone": FILE_GONE,
    "missing": "the gateway has no file for this message",
    "unauthorized": "the gateway refused Closeline's API key for its files",
    "refused": "the file's address is not one Closeline may call",
    "unreachable": "the gateway did not hand the file over in time",
    "server": "the gateway failed while handing the file over",
    "session_state": "the WhatsApp session was not working when the file was asked for",
}


def media_failure(problem=None):
    """Why a file could not be fetched, as one sentence a person reads in Close. `problem`: a
    GatewayError, the gateway's own error value (any shape; never repeated), or None when the
    gateway simply did not download the file."""
    if isinstance(problem, GatewayError):
        return _FAILURE_BY_KIND.get(problem.kind, "the gateway would not hand the file over")
    if problem is None or problem == "":
        return NOT_DOWNLOADED
    return NOT_FROM_WHATSAPP


def media_label(mimetype):
    """What a person calls the file: image, video, voice note, sticker or document (a PDF is a document)."""
    base = (mimetype or "").split(";")[0].strip().lower()
    if base == "image/webp":
        return "sticker"
    if base.startswith("image/"):
        return "image"
    if base.startswith("video/"):
        return "video"
    if base.startswith("audio/"):
        return "voice note" if "ogg" in base or "opus" in (mimetype or "") else "audio"
    return "document"


def media_note(mimetype, problem=None):
    """The text that stands in for a file Close could not get: "[document not available: …]".
    `problem` as for media_failure, or one of the sentences above."""
    reason = problem if isinstance(problem, str) and problem in _PLAIN else media_failure(problem)
    return f"[{media_label(mimetype)} not available: {reason}]"


_PLAIN = {FILE_GONE, NOT_DOWNLOADED, NOT_FROM_WHATSAPP, TOO_LARGE, *_FAILURE_BY_KIND.values()}


def json_answer(response):
    """The parsed body of a successful gateway answer (None when empty); a body that is not JSON
    means the URL is not the gateway it claims to be."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise GatewayError("not_gateway", "The gateway answered with something that is not JSON.",
                           response.status_code)


@dataclass
class ServerInfo:
    version: str
    sessions: list
    single_session: bool = False


@dataclass
class SessionState:
    status: str                 # one of the constants above (or the gateway's own word)
    me: dict | None = None      # {"id": "<digits>@c.us", "lid": …, "pushName": …}


@dataclass
class Media:
    url: str | None
    mimetype: str
    filename: str | None = None
    error: str | None = None
    ref: dict | None = None     # what the gateway needs to fetch the file when there is no URL


@dataclass
class GatewayMessage:
    """One WhatsApp message as the gateway reports it, before its chat is resolved to a phone."""
    short_id: str
    chat_jid: str               # the other side (direct) or the group; may be …@lid
    chat_kind: str              # direct | group | ignore (status broadcasts, newsletters)
    from_me: bool
    sent_at: datetime
    text: str = ""
    sender_name: str = ""
    reply_to_short_id: str | None = None
    reply_to_from_me: bool = False
    media: list = field(default_factory=list)   # [Media]
    phone_hint: str | None = None               # a phone JID the gateway gave beside a LID
    participant: str | None = None              # groups: who wrote it (…@c.us or …@lid)
    participant_hint: str | None = None         # groups: a phone JID the gateway gave beside a LID sender


@dataclass
class MessageEvent:
    message: GatewayMessage
    history: bool = False   # from the history sync after linking (older messages may be in it)


@dataclass
class EditEvent:
    # chat_jid None: the gateway names only the message id; the inbox finds the stored message.
    chat_jid: str | None
    from_me: bool
    short_id: str
    text: str


@dataclass
class RevokeEvent:
    chat_jid: str | None
    from_me: bool
    short_id: str


@dataclass
class StatusEvent:
    status: str
    me: dict | None = None
    at: datetime | None = None   # when the gateway changed the status (None: unknown)


@dataclass
class IgnoredEvent:
    reason: str


class GatewayClient(ABC):
    kind = ""
    label = ""              # shown to people: "WAHA", "Evolution API"
    # Events the webhook subscribes to.
    events: tuple = ()

    api_key_header = ""             # the header that carries the API key
    unauthorized_statuses = (401,)  # answers that mean "wrong API key"
    accounts_word = "sessions"      # what the gateway calls the WhatsApp accounts it serves
    # What to tell the admin when a connection test fails, by GatewayError kind (in its own words).
    setup_hints: dict[str, str] = {}

    def __init__(self, base_url, api_key):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    @staticmethod
    def sent_at(envelope, headers):
        """When the gateway made this delivery, as it signed it (None when it does not say; a kind
        whose signature expires by itself, like Evolution's webhook token, needs no more)."""
        return None

    # -- plumbing shared by every kind --------------------------------------------------------------

    def _call(self, method, path, *, json=None, params=None, ok=(200, 201), raw=False, headers=None):
        """One gateway call: the parsed JSON answer (the response itself with raw=True), else a
        GatewayError saying what went wrong."""
        base = {"Accept": "application/json"}
        if self.api_key:
            base[self.api_key_header] = self.api_key
        with transport_errors():
            response = http.call(method, self.base_url + path, headers={**base, **(headers or {})},
                                 json=json, params=params)
        if response.status_code in ok:
            return response if raw else json_answer(response)
        raise self._error(response)

    def _error(self, response):
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail = str(self._error_detail(body) or f"HTTP {status}")[:300]
        special = self._kind_error(status, body, detail)
        if special is not None:
            return special
        if status in self.unauthorized_statuses:
            return GatewayError("unauthorized", "The gateway refused the API key.", status)
        if status == 404:
            return GatewayError("not_found", detail, status)
        if status >= 500:
            return GatewayError("server", f"The gateway failed ({detail}).", status)
        return GatewayError("rejected", detail, status)

    @staticmethod
    def _error_detail(body):
        """The gateway's own words in an error answer (None when it gave none)."""
        return None

    @staticmethod
    def _kind_error(status, body, detail):
        """A GatewayError this kind reads out of an answer beyond the common statuses, or None."""
        return None

    @staticmethod
    def _s(name):
        """A session name, chat id, … as one path segment."""
        return quote(name, safe="")

    @abstractmethod
    def server_info(self) -> ServerInfo: ...

    @abstractmethod
    def start_session(self, name, *, webhook_url, hmac_key, metadata) -> SessionState: ...

    @abstractmethod
    def session_state(self, name) -> SessionState: ...

    @abstractmethod
    def qr_png(self, name) -> bytes: ...

    @abstractmethod
    def qr_value(self, name) -> str: ...

    @abstractmethod
    def pairing_code(self, name, phone_digits) -> str: ...

    @abstractmethod
    def me(self, name) -> dict | None: ...

    @abstractmethod
    def logout_and_delete(self, name) -> None: ...

    can_restart = False  # restart_session brings a FAILED session back with its stored login

    def restart_session(self, name) -> SessionState:
        """Stop and start the session with its stored login (no new QR code while WhatsApp still
        has the linked device). Kinds that cannot restart say so; the caller then offers a relink."""
        raise GatewayError("rejected", f"{self.label or 'This gateway'} cannot restart a session; relink it.")

    @abstractmethod
    def lid_to_phone(self, name, lid) -> str | None: ...

    @abstractmethod
    def active_chats(self, name, since_ts) -> list: ...

    @abstractmethod
    def chats_since(self, name, since_ts) -> list:
        """[(chat jid, last message Unix seconds or None)] of direct chats active since `since_ts`."""

    @abstractmethod
    def messages_since(self, name, chat_jid, since_ts, me) -> list: ...

    @abstractmethod
    def message_pages(self, name, chat_jid, since_ts, me):
        """The chat's messages from `since_ts` on, oldest first, as pages: (list of GatewayMessage,
        whether it is the last page)."""

    @abstractmethod
    def download_media(self, media) -> tuple: ...

    def media_again(self, name, message, index=0) -> Media | None:
        """The message's file `index` fetched afresh from the gateway (its stored copy expired), or
        None when the gateway has no other way to get it. GatewayError as for any call."""
        return None

    def contact_name(self, name, jid) -> str:
        """The name WhatsApp shows for a contact (their push name), "" when the gateway can't say."""
        return ""

    def chat_name(self, name, jid) -> str:
        """A group's subject as the gateway knows it, "" when it can't say."""
        return ""

    @abstractmethod
    def parse_webhook(self, envelope) -> list: ...

    @abstractmethod
    def dedupe_key(self, envelope) -> str | None: ...

    @staticmethod
    def session_of(envelope) -> str | None:
        """The gateway session (WAHA session, Evolution instance) a webhook envelope is about."""
        return envelope.get("session")

    @staticmethod
    @abstractmethod
    def signature_ok(raw, headers, key) -> bool:
        """Is the raw webhook body signed with `key`? Checked before anything is parsed."""



# -- events as stored rows: the webhook inbox keeps these, never the gateway's raw body ---------------

_EVENT_TYPES = {"message": MessageEvent, "edit": EditEvent, "revoke": RevokeEvent, "status": StatusEvent,
                "ignored": IgnoredEvent}
_TYPE_NAMES = {cls: name for name, cls in _EVENT_TYPES.items()}


def event_record(event):
    """A parsed event as plain JSON-ready data (see event_from_record)."""
    data = asdict(event)
    if isinstance(event, MessageEvent):
        data["message"]["sent_at"] = event.message.sent_at.isoformat()
    if isinstance(event, StatusEvent) and event.at is not None:
        data["at"] = event.at.isoformat()
    return {"type": _TYPE_NAMES[type(event)], **data}


def event_from_record(record):
    data = dict(record)
    cls = _EVENT_TYPES[data.pop("type")]
    if cls is MessageEvent:
        message = dict(data["message"])
        message["sent_at"] = datetime.fromisoformat(message["sent_at"])
        message["media"] = [Media(**media) for media in message.get("media") or []]
        return MessageEvent(GatewayMessage(**message), history=bool(data.get("history")))
    if cls is StatusEvent and data.get("at"):
        data["at"] = datetime.fromisoformat(data["at"])
    return cls(**data)
