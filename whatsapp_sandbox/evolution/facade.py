"""Evolution API instances: connection states (close → connecting → open), QR rotation and limit,
pairing codes, and webhooks (envelope, custom headers or jwt_key, retries) for connection and
message events. Every method runs under world.lock."""
import base64
import hashlib
import hmac
import json
import random
import time

from .. import ids
from ..qr import png_data_url
from ..webhooks import Delivery
from ..world import EvoInstance, WorldError
from . import render

CONFIG_EVENTS = [
    "APPLICATION_STARTUP", "INSTANCE_CREATE", "INSTANCE_DELETE", "QRCODE_UPDATED", "CONNECTION_UPDATE",
    "STATUS_INSTANCE", "LOGOUT_INSTANCE", "REMOVE_INSTANCE", "MESSAGES_SET", "MESSAGES_UPSERT",
    "MESSAGES_EDITED", "MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE", "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET", "CONTACTS_UPSERT", "CONTACTS_UPDATE", "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT",
    "CHATS_UPDATE", "CHATS_DELETE", "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE",
    "LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
]
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})
STATUS_ORDER = ["ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED"]


def config_name(event: str) -> str:
    return event.replace(".", "_").replace("-", "_").upper()


class EvolutionFacade:
    name = "evolution"

    def __init__(self, sb):
        self.sb = sb
        self.row_ids: dict[str, str] = {}  # wa_id -> stored row cuid

    @property
    def instances(self) -> dict:
        return self.sb.world.evo_instances

    @property
    def config(self):
        return self.sb.config

    def reset(self):
        self.instances.clear()
        self.row_ids.clear()
        self.licensed = bool(self.config["EVOLUTION_LICENSE_ACTIVE"])

    @property
    def version(self) -> str:
        return str(self.config["EVOLUTION_VERSION"])

    @property
    def gated(self) -> bool:
        """2.4.0 answers 503 LICENSE_REQUIRED on every business endpoint until the licence is activated."""
        return self.version == "2.4.0" and not self.licensed

    def holds(self, instance, msg) -> bool:
        """Is the message in the instance's own store (what findMessages / findChats read)?"""
        if msg.wa_id in instance.zombie_missed:
            return False
        if instance.first_open_seq is None:
            return False
        return instance.history_synced or msg.seq >= instance.first_open_seq

    def row_id(self, wa_id: str) -> str:
        return self.row_ids.setdefault(wa_id, ids.cuid())

    # --- lifecycle -----------------------------------------------------------------------
    def create(self, name, integration, token, webhook, settings) -> EvoInstance:
        instance = EvoInstance(name=name, id=ids.instance_uuid(), token=token or ids.instance_token(),
                               integration=integration, webhook=webhook, settings=settings)
        self.instances[name] = instance
        self.emit(instance, "instance.create", {"instanceName": name, "instanceId": instance.id})
        return instance

    def connect(self, instance, number: str | None = None):
        # A pairing number counts only when a new socket opens (create, or connect from `close`): a
        # connect?number= on an instance already connecting returns the current QR, with no code.
        if number and instance.state == "close":
            instance.pairing_number = number
        if instance.state == "open":
            return
        if instance.state == "close":
            instance.state = "connecting"
            instance.status_reason = 200
            self.emit(instance, "connection.update", {"instance": instance.name, "state": "connecting",
                                                       "statusReason": 200})
            if instance.auth_number:
                self.sb.world.later(self.config["EVOLUTION_CONNECT_SECONDS"], lambda: self._reopen(instance))
                return
        if instance.qr is None and not instance.auth_number:
            self.new_qr(instance)

    def _reopen(self, instance):
        if self.instances.get(instance.name) is instance and instance.state == "connecting" and instance.auth_number:
            self.open(instance)

    def new_qr(self, instance):
        instance.qr = ids.qr_value()
        instance.qr_count += 1
        instance.qr_due = time.time() + self.config["EVOLUTION_QR_SECONDS"]
        instance.pairing_code = ids.pairing_code().replace("-", "") if instance.pairing_number else None
        self.emit(instance, "qrcode.updated", {"qrcode": {"instance": instance.name,
                                                          "pairingCode": instance.pairing_code,
                                                          "code": instance.qr, "base64": png_data_url(instance.qr)}})

    def qr_object(self, instance) -> dict:
        if instance.qr is None:
            return {"count": instance.qr_count}
        return {"pairingCode": instance.pairing_code, "code": instance.qr,
                "base64": png_data_url(instance.qr), "count": instance.qr_count}

    def open(self, instance):
        phone = self.sb.world.phones[instance.auth_number]
        first = instance.first_open_seq is None
        if first:
            instance.first_open_seq = self.sb.world.next_seq()
            self.sb.world.later(self.config["EVOLUTION_HISTORY_SYNC_SECONDS"], lambda: self._history_sync(instance))
        instance.state = "open"
        instance.owner_jid = render.phone_jid(phone)
        instance.qr = None
        instance.qr_count = 0
        instance.pairing_code = None
        instance.connected_once = True
        instance.status_reason = 200
        instance.updated_at = time.time()
        self.emit(instance, "connection.update", {
            "instance": instance.name, "wuid": render.phone_jid(phone), "profileName": phone.name,
            "profilePictureUrl": None, "state": "open", "statusReason": 200})
        self._deliver_missed(instance)

    def _deliver_missed(self, instance):
        """A new connection after a zombie socket: WhatsApp hands over what the dead one never got."""
        instance.zombie = False
        missed, instance.zombie_missed = instance.zombie_missed, []
        for wa_id in missed:
            msg = self.sb.world.by_wa_id.get(wa_id)
            if msg is not None and not msg.revoked:
                self._emit_upsert(instance, msg)

    def _history_sync(self, instance, batch: int = 50):
        """The phone's history reaches the store (and `messages.set`) a while after the first link."""
        if self.instances.get(instance.name) is not instance or not instance.auth_number:
            return
        instance.history_synced = True
        world = self.sb.world
        older = [m for m in world.chat_messages(instance.auth_number)
                 if m.seq < instance.first_open_seq and not m.revoked and not self._ignored(instance, m)]
        chunks = [older[i:i + batch] for i in range(0, len(older), batch)] or [[]]
        for n, chunk in enumerate(chunks, 1):
            data = [render.upsert_data(world, instance, m, version=self.version) for m in chunk]
            extra = {"isLatest": n == len(chunks), "progress": round(100 * n / len(chunks))} \
                if self.version != "2.3.6" else {}
            self.emit(instance, "messages.set", data, extra)

    def close(self, instance, reason: int):
        """Terminal close (logged out / removed on the phone): the session is wiped."""
        instance.state = "close"
        instance.auth_number = None
        instance.qr = None
        instance.qr_count = 0
        instance.status_reason = reason
        instance.disconnection = {"disconnectionReasonCode": reason, "disconnectionAt": render.iso(time.time()),
                                  "disconnectionObject": json.dumps({"error": {"output": {"statusCode": reason}}})}
        self.emit(instance, "connection.update", {"instance": instance.name, "state": "close", "statusReason": reason})
        self.emit(instance, "status.instance", {"instance": instance.name, "status": "closed",
                                                **instance.disconnection})
        self.emit(instance, "logout.instance", None)

    def delete(self, instance):
        if instance.state != "close":
            self.close(instance, 401)
        self.emit(instance, "instance.delete", {"instanceName": instance.name, "instanceId": instance.id})
        self.emit(instance, "remove.instance", None)
        self.instances.pop(instance.name, None)

    def tick(self):
        now = time.time()
        for instance in list(self.instances.values()):
            if instance.state != "connecting" or instance.qr is None or now < instance.qr_due:
                continue
            if instance.qr_count >= self.config["EVOLUTION_QR_LIMIT"]:
                self.emit(instance, "qrcode.updated", {"message": "QR code limit reached, please login again",
                                                       "statusCode": 500})
                self.emit(instance, "connection.update", {"instance": instance.name, "state": "refused",
                                                           "statusReason": 428})
                instance.state, instance.qr, instance.qr_count = "close", None, 0
            else:
                self.new_qr(instance)

    # --- control API ----------------------------------------------------------------------
    def scan_by(self, number, qr="", code=""):
        for instance in self.instances.values():
            if instance.state != "connecting" or instance.qr is None:
                continue
            if (qr and instance.qr == qr) or (code and instance.pairing_code == code.replace("-", "")):
                if code and not qr and instance.pairing_number and instance.pairing_number.lstrip("+") != number[1:]:
                    raise WorldError(400, f"That pairing code was requested for +{instance.pairing_number.lstrip('+')}.")
                instance.auth_number = number
                self.open(instance)
                return instance.name
        return None

    def control(self, name, action, number):
        instance = self.instances.get(name)
        if instance is None:
            raise WorldError(404, f"No Evolution instance {name!r}.")
        if action == "scan":
            if instance.state != "connecting" or instance.qr is None:
                raise WorldError(409, f"Instance {name!r} is {instance.state}; connect it to get a QR code first.")
            instance.auth_number = number
            self.open(instance)
        elif action == "fail":
            if instance.state != "open":
                raise WorldError(409, f"Instance {name!r} is {instance.state}, not open.")
            instance.state, instance.status_reason = "connecting", 428  # reconnect loop that does not succeed
            self.emit(instance, "connection.update", {"instance": name, "state": "connecting", "statusReason": 428})
        elif action == "blip":
            # A network drop: Baileys reconnects by itself (no close webhook), connecting → open.
            if instance.state != "open":
                raise WorldError(409, f"Instance {name!r} is {instance.state}, not open.")
            # statusReason 200: the new socket's own update, which carries no disconnect code.
            instance.state, instance.status_reason = "connecting", 200
            self.emit(instance, "connection.update", {"instance": name, "state": "connecting", "statusReason": 200})
            self.sb.world.later(self.config["EVOLUTION_CONNECT_SECONDS"], lambda: self._reopen(instance))
        elif action == "zombie":
            # The socket died without Baileys noticing: connectionState stays open, nothing arrives.
            if instance.state != "open":
                raise WorldError(409, f"Instance {name!r} is {instance.state}, not open.")
            instance.zombie = True
        elif action == "restore":
            if not instance.auth_number:
                raise WorldError(409, f"Instance {name!r} has no linked phone; scan a QR code.")
            self.open(instance)
        elif action == "logout":
            if not instance.auth_number:
                raise WorldError(409, f"Instance {name!r} has no linked phone.")
            self.close(instance, 401)
        return {"facade": "evolution", "instance": name, "state": instance.state, "number": instance.auth_number}

    def view(self) -> list:
        return [{"name": i.name, "id": i.id, "token": i.token, "state": i.state, "number": i.auth_number,
                 "qr": i.qr, "qr_count": i.qr_count, "pairing_code": i.pairing_code, "zombie": i.zombie,
                 "webhook": (i.webhook or {}).get("url")} for i in self.instances.values()]

    # --- message events ----------------------------------------------------------------------
    def _open_instances_of(self, msg):
        return [i for i in self.instances.values()
                if i.state == "open" and i.auth_number and msg.involves(i.auth_number)]

    def _base64_on(self, instance) -> bool:
        return bool((instance.webhook or {}).get("webhookBase64"))

    @staticmethod
    def _ignored(instance, msg) -> bool:
        """Newsletters always; statuses unless readStatus; groups when groupsIgnore."""
        if msg.chat_kind == "newsletter":
            return True
        if msg.chat_kind == "status":
            return not instance.settings.get("readStatus")
        return msg.chat_kind == "group" and bool(instance.settings.get("groupsIgnore"))

    def on_message(self, msg):
        world = self.sb.world
        for instance in self._open_instances_of(msg):
            if self._ignored(instance, msg):
                continue
            if instance.zombie:
                instance.zombie_missed.append(msg.wa_id)  # the dead socket hears nothing
                continue
            if msg.via == ("evolution", instance.name):
                data = render.send_data(world, instance, msg)
                if self._base64_on(instance) and msg.media is not None:
                    data["message"]["base64"] = base64.b64encode(msg.media.data).decode()
                self.emit(instance, "send.message", data)
                self._schedule_updates(instance, msg)
            else:
                self._emit_upsert(instance, msg)

    def _emit_upsert(self, instance, msg):
        data = render.upsert_data(self.sb.world, instance, msg, base64_media=self._base64_on(instance),
                                  version=self.version)
        copies = 2 if self.config["EVOLUTION_DOUBLE_UPSERTS"] and self.version != "2.3.6" else 1
        for _ in range(copies):  # 2.3.7 removed the upsert de-dup: deliveries come twice
            self.emit(instance, "messages.upsert", data)

    def _schedule_updates(self, instance, msg):
        peer = self.sb.world.phones[msg.party(instance.auth_number)]
        for delay, status in ((0.3, "SERVER_ACK"), (0.6, "DELIVERY_ACK"), (1.0, "READ")):
            def fire(status=status):
                if self.instances.get(instance.name) is instance and instance.state == "open":
                    msg.ack = max(msg.ack, STATUS_ORDER.index(status) - 1)
                    self.emit(instance, "messages.update", {
                        "keyId": msg.wa_id, "remoteJid": render.chat_jid(peer), "fromMe": True, "status": status,
                        "instanceId": instance.id, "messageId": self.row_id(msg.wa_id)})
            self.sb.world.later(delay, fire)

    def on_edit(self, msg, action_id):
        world = self.sb.world
        for instance in self._open_instances_of(msg):
            owner = world.phones[instance.auth_number]
            peer = world.phones[msg.party(instance.auth_number)]
            edited_by_me = msg.sender == owner.e164
            # Baileys reports the key in the editor's perspective: a contact's edit shows our own JID.
            key = {"remoteJid": render.phone_jid(peer) if edited_by_me else render.phone_jid(owner),
                   "fromMe": True, "id": msg.wa_id}
            _, new_content = render.content(world, msg, owner.e164)
            new_content = {k: v for k, v in new_content.items() if k != "base64"}
            self.emit(instance, "messages.edited", {"key": key, "type": "MESSAGE_EDIT",
                                                     "editedMessage": new_content,
                                                     "timestampMs": str(int(time.time() * 1000))})
            self.emit(instance, "messages.update", {
                "keyId": msg.wa_id, "remoteJid": render.chat_jid(peer), "fromMe": edited_by_me,
                "status": "SERVER_ACK", "message": {"editedMessage": {"message": new_content}},
                "instanceId": instance.id, "messageId": self.row_id(msg.wa_id)})

    def on_revoke(self, msg):
        world = self.sb.world
        for instance in self._open_instances_of(msg):
            peer = world.phones[msg.party(instance.auth_number)]
            from_me = msg.sender == instance.auth_number
            self.emit(instance, "messages.edited", {
                "key": {"remoteJid": render.chat_jid(peer), "fromMe": from_me, "id": msg.wa_id},
                "type": "REVOKE", "timestampMs": str(int(time.time() * 1000))})
            data = render.stored_key(peer, from_me, msg.wa_id)
            data["status"] = "DELETED"
            self.emit(instance, "messages.delete", data)

    # --- webhooks ----------------------------------------------------------------------------------
    def emit(self, instance, event: str, data, extra: dict | None = None):
        webhook = instance.webhook or {}
        if not webhook.get("enabled") or not webhook.get("url"):
            return
        if config_name(event) not in webhook.get("events", []):
            return
        url = webhook["url"]
        if not url.startswith(("http://", "https://")):
            return  # silently skipped at delivery time
        sender = None
        if instance.connected_once and instance.auth_number:
            sender = render.phone_jid(self.sb.world.phones[instance.auth_number])
        envelope = {"event": event, "instance": instance.name, "data": data, "destination": url,
                    "date_time": render.date_time(time.time())}
        if sender:
            envelope["sender"] = sender
        envelope["server_url"] = f"{self.sb.public_url}/evolution"
        envelope["apikey"] = instance.token if self.config["EVOLUTION_EXPOSE_TOKEN"] else None
        envelope.update(extra or {})
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        target = url + "/" + config_name(event).lower().replace("_", "-") if webhook.get("webhookByEvents") else url
        self.sb.dispatcher.enqueue(Delivery(
            facade="evolution", target=instance.name, event=event, url=target, body=body,
            headers=self._headers(webhook), max_retries=9, delay_for=_retry_delay,
            non_retryable=NON_RETRYABLE))

    @staticmethod
    def _headers(webhook) -> dict:
        headers = {"Content-Type": "application/json", "User-Agent": "axios/1.7.9"}
        for name, value in (webhook.get("headers") or {}).items():
            if name == "jwt_key":
                headers["Authorization"] = f"Bearer {jwt_hs256(str(value))}"
            else:
                headers[name] = str(value)
        return headers


def _retry_delay(n: int) -> float:
    """5 s doubling, capped at 300 s, ±20 % jitter, never below the initial delay."""
    delay = min(5.0 * 2 ** (n - 1), 300.0) * (1 + random.uniform(-0.2, 0.2))
    return max(delay, 5.0)


def jwt_hs256(secret: str) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = b64(json.dumps({"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook"},
                            separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"
