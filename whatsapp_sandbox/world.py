"""In-memory state of the simulated WhatsApp world. Everything is guarded by World.lock."""
import heapq
import itertools
import re
import threading
import time
from dataclasses import dataclass, field

from . import ids
from .people import CUSTOMERS, MEMBERS

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class WorldError(Exception):
    """A bad request to the world (control API / pages): status + message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Phone:
    e164: str
    name: str
    kind: str  # "member" | "customer"
    lid: str  # digits only
    written_as: str = ""
    email: str | None = None
    lid_only: bool = False  # the members see this person only as <lid>@lid
    lid_resolvable: bool = True  # the LID API knows the phone number

    @property
    def digits(self) -> str:
        return self.e164[1:]


@dataclass
class Media:
    filename: str | None
    mimetype: str
    data: bytes
    voice: bool = False
    document: bool = False  # sent "as a document" even if it is a picture

    @property
    def kind(self) -> str:
        if self.document:
            return "document"
        if self.voice or self.mimetype.startswith("audio/"):
            return "audio"
        if self.mimetype.startswith("image/"):
            return "image"
        if self.mimetype.startswith("video/"):
            return "video"
        return "document"


@dataclass
class Message:
    seq: int
    wa_id: str  # WhatsApp key id, shared by both ends
    sender: str  # e164
    recipient: str  # e164
    text: str
    timestamp: int  # unix seconds
    source: str = "app"  # "app" (typed on a phone) | "api" (sent through a gateway)
    reply_to: str | None = None  # wa_id of the quoted message
    media: Media | None = None
    media_id: str | None = None  # Cloud API media id
    edits: list = field(default_factory=list)  # [(wa_id of the edit action, old text, timestamp)]
    revoked: bool = False
    revoke_id: str | None = None
    ack: int = 1
    wamid: str = ""
    via: tuple | None = None  # (facade, account) that sent it through its API
    location: dict | None = None  # {latitude, longitude, name?, address?}
    contact: dict | None = None  # a shared contact card {name, phone}
    chat_kind: str = "direct"  # "direct" | "group" | "status" (status@broadcast) | "newsletter"
    group_id: str | None = None  # digits of the group / newsletter id
    media_gone: bool = False  # WhatsApp's servers no longer have the file: a gateway can't download it again

    @property
    def vcard(self) -> str | None:
        if not self.contact:
            return None
        digits = self.contact["phone"].lstrip("+")
        return (f"BEGIN:VCARD\nVERSION:3.0\nFN:{self.contact['name']}\n"
                f"TEL;type=CELL;waid={digits}:{self.contact['phone']}\nEND:VCARD")

    def party(self, number: str) -> str:
        """The other end of the chat, seen from `number`."""
        return self.recipient if self.sender == number else self.sender

    def involves(self, number: str) -> bool:
        return number in (self.sender, self.recipient)


@dataclass
class WebhookTarget:
    url: str
    events: list
    hmac_key: str | None = None
    retries: dict | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class WahaSession:
    name: str
    config: dict
    status: str = "STOPPED"
    statuses: list = field(default_factory=list)  # last 3 {status, timestamp ms}
    auth_number: str | None = None  # the phone whose linked device this session is
    qr: str | None = None
    qr_count: int = 0
    qr_due: float = 0.0
    starting_due: float = 0.0
    pairing: dict | None = None  # {"code", "phone"}
    created_at: float = field(default_factory=time.time)
    last_working_notified: bool = False
    restarts_fail: int = 0  # the next N starts with a stored login crash again (FAILED)

    @property
    def running(self) -> bool:
        return self.status not in ("STOPPED", "FAILED")


@dataclass
class EvoInstance:
    name: str
    id: str
    token: str
    integration: str
    state: str = "close"  # close | connecting | open
    auth_number: str | None = None
    qr: str | None = None
    qr_count: int = 0
    qr_due: float = 0.0
    pairing_number: str | None = None
    pairing_code: str | None = None
    webhook: dict | None = None
    settings: dict = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    disconnection: dict = field(default_factory=dict)
    connected_once: bool = False
    status_reason: int = 200
    # What Evolution's own store holds: messages delivered while open, plus, once the history sync
    # after the first link has run, what the phone had before (findMessages reads only the store).
    owner_jid: str | None = None  # the DB column ownerJid: set on open, kept after a logout (stale)
    first_open_seq: int | None = None
    history_synced: bool = False
    # A zombie socket: connectionState still says open, but nothing arrives (WhatsApp keeps these for
    # the next connection, which delivers them).
    zombie: bool = False
    zombie_missed: list = field(default_factory=list)


@dataclass
class GraphNumber:
    phone_number_id: str
    waba_id: str
    number: str  # e164 of the member's business number
    verified_name: str
    webhook_url: str | None = None


class World:
    def __init__(self):
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.clear()

    def clear(self):
        self.phones: dict[str, Phone] = {}
        self.messages: list[Message] = []
        self.by_wa_id: dict[str, Message] = {}
        self.waha_sessions: dict[str, WahaSession] = {}
        self.evo_instances: dict[str, EvoInstance] = {}
        self.graph_numbers: dict[str, GraphNumber] = {}
        self.waha_files: dict[str, tuple] = {}  # "session/file" -> (wa_id, created_at)
        self.graph_media: dict[str, str] = {}  # media id -> wa_id
        self.groups: dict[str, str] = {}  # group id digits -> subject
        self.timers: list = []  # heap of (due, seq, fn)

    # --- seed ----------------------------------------------------------
    def seed(self):
        self.clear()
        for e164, name, email, lid in MEMBERS:
            self.phones[e164] = Phone(e164, name, "member", lid, written_as=e164, email=email)
        for e164, name, written, lid, lid_only, resolvable in CUSTOMERS:
            self.phones[e164] = Phone(e164, name, "customer", lid, written_as=written,
                                      lid_only=lid_only, lid_resolvable=resolvable)

    # --- phones ----------------------------------------------------------
    def phone(self, e164: str) -> Phone | None:
        return self.phones.get(e164)

    def phone_by_digits(self, digits: str) -> Phone | None:
        return self.phones.get("+" + digits)

    def phone_by_lid(self, lid_digits: str) -> Phone | None:
        return next((p for p in self.phones.values() if p.lid == lid_digits), None)

    def ensure_phone(self, e164: str) -> Phone:
        """Unknown but valid numbers join the world as customers (tests send from fresh numbers)."""
        if not isinstance(e164, str) or not E164.match(e164):
            raise WorldError(400, f"{e164!r} is not an E.164 number like +14155550123.")
        phone = self.phones.get(e164)
        if phone is None:
            phone = self.phones[e164] = Phone(e164, f"Customer {e164[-4:]}", "customer",
                                              "3019" + ids.digits(11), written_as=e164)
        return phone

    def members(self) -> list[Phone]:
        return [p for p in self.phones.values() if p.kind == "member"]

    # --- messages --------------------------------------------------------
    def add_message(self, sender: str, recipient: str, text: str, *, source="app", reply_to=None,
                    media=None, device=None, timestamp=None) -> Message:
        device = device or ("web" if source == "api" else "ios")
        msg = Message(seq=next(self._seq), wa_id=ids.wa_message_id(device), sender=sender,
                      recipient=recipient, text=text or "", timestamp=int(timestamp or time.time()), source=source,
                      reply_to=reply_to, media=media, wamid=ids.wamid())
        if media is not None:
            msg.media_id = ids.digits(16)
            self.graph_media[msg.media_id] = msg.wa_id
        self.messages.append(msg)
        self.by_wa_id[msg.wa_id] = msg
        return msg

    def find_message(self, ref: str) -> Message | None:
        """By WhatsApp key id, WAHA serialized id ('true_<chat>_<id>[_p]') or Cloud API wamid."""
        if not ref:
            return None
        if ref in self.by_wa_id:
            return self.by_wa_id[ref]
        parts = ref.split("_")
        if len(parts) >= 3 and parts[0] in ("true", "false") and parts[2] in self.by_wa_id:
            return self.by_wa_id[parts[2]]
        return next((m for m in self.messages if m.wamid == ref), None)

    def chat_messages(self, owner: str, peer: str | None = None) -> list[Message]:
        """The direct chats' messages of a phone (groups, statuses and channels are not chats here)."""
        return [m for m in self.messages
                if m.chat_kind == "direct" and m.involves(owner) and (peer is None or m.party(owner) == peer)]

    # --- timers (run by the ticker thread, under the lock) -----------------
    def next_seq(self) -> int:
        return next(self._seq)

    def later(self, delay: float, fn) -> None:
        heapq.heappush(self.timers, (time.time() + delay, next(self._seq), fn))

    def run_due_timers(self) -> None:
        now = time.time()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            fn()
