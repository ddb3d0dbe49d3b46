"""WAHA sessions: the status machine of waha.md §2.4, QR rotation, and the webhooks (envelope,
HMAC-SHA512, retries) for session and message events. Every method runs under world.lock."""
import hashlib
import hmac
import json
import random
import time

from .. import ids
from ..core import now_ms
from ..webhooks import Delivery
from ..world import WahaSession, WorldError
from . import render

EVENTS = {
    "session.status", "message", "message.any", "message.reaction", "message.ack", "message.ack.group",
    "message.waiting", "message.edited", "message.revoked", "chat.archive", "presence.update",
    "poll.vote", "poll.vote.failed", "group.v2.join", "group.v2.leave", "group.v2.update",
    "group.v2.participants", "group.join", "group.leave", "call.received", "call.accepted",
    "call.rejected", "label.upsert", "label.deleted", "label.chat.added", "label.chat.deleted",
    "event.response", "event.response.failed", "engine.event", "state.change",
}
NOT_IN_WILDCARD = {"state.change", "engine.event"}


class WahaFacade:
    name = "waha"

    def __init__(self, sb):
        self.sb = sb

    @property
    def sessions(self) -> dict:
        return self.sb.world.waha_sessions

    @property
    def config(self):
        return self.sb.config

    def reset(self):
        self.sessions.clear()
        if self.config["WAHA_SINGLE_SESSION"]:
            # WAHA Core: the `default` session exists from process start, STOPPED, unconfigured.
            self.sessions["default"] = WahaSession("default", {"webhooks": [], "metadata": None})

    # --- lifecycle ---------------------------------------------------------------------
    def create(self, name: str, config: dict, start: bool) -> WahaSession:
        session = self.sessions[name] = WahaSession(name, config)
        if start:
            self.start(session)
        return session

    def start(self, session):
        session.pairing = None
        self.set_status(session, "STARTING")
        session.starting_due = time.time() + self.config["WAHA_STARTING_SECONDS"]

    def stop(self, session):
        if session.status != "STOPPED":
            self.set_status(session, "STOPPED")

    def logout(self, session):
        """Removes the authentication; a running session starts again and asks for a new QR."""
        was_running = session.running
        session.auth_number = None
        if was_running:
            self.set_status(session, "STOPPED")
            self.start(session)

    def delete(self, session):
        if session.running:
            self.set_status(session, "STOPPED")
        self.sessions.pop(session.name, None)

    def scan(self, session, number: str):
        session.auth_number = number
        session.qr = None
        session.pairing = None
        self.set_status(session, "WORKING")

    def fail(self, session):
        """The engine crashed or the network is gone; authentication is kept (restart cures it)."""
        self.set_status(session, "FAILED")

    def unlink_on_phone(self, session):
        """The member removed the linked device on the phone: FAILED, and only logout + start cures it."""
        session.auth_number = None
        self.set_status(session, "FAILED")

    def set_status(self, session, status: str):
        if status == "WORKING" and session.status == "WORKING":
            return  # WAHA suppresses consecutive WORKING
        session.status = status
        session.statuses = (session.statuses + [{"status": status, "timestamp": now_ms()}])[-3:]
        self.emit(session, "session.status", {"name": session.name, "status": status,
                                              "statuses": list(session.statuses), "data": None})

    def new_qr(self, session):
        session.qr = ids.qr_value()
        session.qr_count += 1
        first = session.qr_count == 1
        session.qr_due = time.time() + self.config["WAHA_QR_FIRST_SECONDS" if first else "WAHA_QR_NEXT_SECONDS"]

    def tick(self):
        now = time.time()
        for session in list(self.sessions.values()):
            if session.status == "STARTING" and now >= session.starting_due:
                if session.auth_number and session.restarts_fail > 0:
                    session.restarts_fail -= 1
                    self.set_status(session, "FAILED")  # the engine crashes again right after starting
                elif session.auth_number:
                    self.set_status(session, "WORKING")
                else:
                    session.qr_count = 0
                    self.new_qr(session)
                    self.set_status(session, "SCAN_QR_CODE")
            elif session.status == "SCAN_QR_CODE" and now >= session.qr_due:
                if session.qr_count >= self.config["WAHA_QR_CODES"]:
                    session.qr = None
                    self.set_status(session, "FAILED")  # QR attempts ran out (since 2025.3.2)
                else:
                    self.new_qr(session)
                    self.set_status(session, "SCAN_QR_CODE")  # re-emitted on every rotation

    # --- control API ---------------------------------------------------------------------
    def scan_by(self, number: str, qr: str = "", code: str = "") -> str | None:
        for session in self.sessions.values():
            if session.status != "SCAN_QR_CODE":
                continue
            if qr and session.qr == qr:
                self.scan(session, number)
                return session.name
            if code and session.pairing and session.pairing["code"].replace("-", "") == code.replace("-", ""):
                if session.pairing["phone"] != number:
                    raise WorldError(400, f"That pairing code was requested for {session.pairing['phone']}.")
                self.scan(session, number)
                return session.name
        return None

    def control(self, name: str, action: str, number: str | None, body: dict | None = None) -> dict:
        session = self.sessions.get(name)
        if session is None:
            raise WorldError(404, f"No WAHA session {name!r}.")
        if action == "scan":
            if session.status != "SCAN_QR_CODE":
                raise WorldError(409, f"Session {name!r} is {session.status}; it shows a QR code only in SCAN_QR_CODE.")
            self.scan(session, number)
        elif action == "fail":
            if session.status == "FAILED":
                raise WorldError(409, f"Session {name!r} is already FAILED.")
            again = (body or {}).get("restarts_fail", 0)
            if not isinstance(again, int) or isinstance(again, bool) or again < 0:
                raise WorldError(400, "restarts_fail is how many of the next starts crash again (>= 0).")
            session.restarts_fail = again
            self.fail(session)
        elif action == "restore":
            if not session.auth_number:
                raise WorldError(409, f"Session {name!r} has no linked phone; link it with a QR scan.")
            self.set_status(session, "WORKING")
        elif action == "logout":
            if not session.auth_number:
                raise WorldError(409, f"Session {name!r} has no linked phone.")
            self.unlink_on_phone(session)
        return {"facade": "waha", "session": name, "status": session.status, "number": session.auth_number}

    def view(self) -> list:
        return [{"name": s.name, "status": s.status, "number": s.auth_number, "qr": s.qr,
                 "qr_count": s.qr_count, "pairing": s.pairing,
                 "metadata": (s.config or {}).get("metadata"),
                 "webhooks": [w["url"] for w in (s.config or {}).get("webhooks") or []]}
                for s in self.sessions.values()]

    # --- message events ------------------------------------------------------------------
    def _working_sessions_of(self, msg):
        return [s for s in self.sessions.values()
                if s.status == "WORKING" and s.auth_number and msg.involves(s.auth_number)]

    def on_message(self, msg):
        for session in self._working_sessions_of(msg):
            if self._ignored(session, msg):
                continue
            payload = render.wa_message(self.sb, session, msg, event=True)
            if msg.sender == session.auth_number:
                self.emit(session, "message.any", payload)
                if payload.get("source") == "api":
                    self._schedule_acks(session, msg)
            else:
                self.emit(session, "message", payload)
                self.emit(session, "message.any", payload)

    @staticmethod
    def _ignored(session, msg) -> bool:
        """config.ignore drops status / group / channel events."""
        ignore = (session.config or {}).get("ignore") or {}
        flag = {"status": "status", "group": "groups", "newsletter": "channels"}.get(msg.chat_kind)
        return bool(flag and ignore.get(flag))

    def _schedule_acks(self, session, msg):
        for delay, ack in ((0.3, 2), (0.8, 3)):
            def fire(ack=ack, name=session.name):
                session_now = self.sessions.get(name)
                if msg.ack >= ack:
                    return
                msg.ack = ack
                if session_now and session_now.status == "WORKING":
                    self.emit(session_now, "message.ack", self._ack_payload(session_now, msg))
            self.sb.world.later(delay, fire)

    def _ack_payload(self, session, msg):
        full = render.wa_message(self.sb, session, msg, download_media=False)
        if self.config["WAHA_ENGINE"] != "NOWEB":
            return full  # WEBJS sends a full WAMessage
        return {"id": full["id"], "from": full["from"], "to": session_me_id(self.sb, session),
                "participant": None, "fromMe": True, "ack": full["ack"], "ackName": full["ackName"]}

    def on_edit(self, msg, action_id):
        for session in self._working_sessions_of(msg):
            payload = render.wa_message(self.sb, session, msg, event=True, download_media=False)
            chat = payload["id"].split("_")[1]
            payload["id"] = render.serialized_id(payload["fromMe"], chat, action_id)
            payload["editedMessageId"] = msg.wa_id
            payload.pop("replyTo", None)
            self.emit(session, "message.edited", payload)

    def on_revoke(self, msg):
        for session in self._working_sessions_of(msg):
            full = render.wa_message(self.sb, session, msg, download_media=False)
            chat = full["id"].split("_")[1]
            after = {"id": render.serialized_id(full["fromMe"], chat, msg.revoke_id),
                     "timestamp": int(time.time()), "from": full["from"], "fromMe": full["fromMe"],
                     "body": "", "hasMedia": False}
            if "to" in full:
                after["to"] = full["to"]
            self.emit(session, "message.revoked", {"after": after, "before": None,
                                                   "revokedMessageId": msg.wa_id})

    # --- webhooks ------------------------------------------------------------------------
    def emit(self, session, event: str, payload: dict):
        envelope = {"id": ids.event_id(), "timestamp": now_ms(), "event": event, "session": session.name}
        metadata = (session.config or {}).get("metadata")
        if metadata:
            envelope["metadata"] = metadata
        envelope.update({"me": render.me_info(self.sb.world, session), "payload": payload,
                         "engine": self.config["WAHA_ENGINE"], "environment": render.environment(self.config)})
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        for webhook in (session.config or {}).get("webhooks") or []:
            if event in expand_events(webhook.get("events") or []):
                self.sb.dispatcher.enqueue(self._delivery(session, event, envelope, body, webhook))

    def _delivery(self, session, event, envelope, body, webhook) -> Delivery:
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"WAHA/{render.environment(self.config)['version']}",
                   "X-Webhook-Request-Id": ids.request_id(),
                   "X-Webhook-Timestamp": str(envelope["timestamp"])}
        key = (webhook.get("hmac") or {}).get("key")
        if key:
            headers["X-Webhook-Hmac"] = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        for header in webhook.get("customHeaders") or []:
            headers[header["name"]] = header["value"]
        retries = webhook.get("retries") or {}
        return Delivery(facade="waha", target=session.name, event=event, url=webhook["url"], body=body,
                        headers=headers, max_retries=15 if retries.get("attempts") is None else int(retries["attempts"]),
                        delay_for=retry_delays(retries), honour_retry_after=True, event_id=envelope["id"])


def session_me_id(sb, session) -> str | None:
    me = render.me_info(sb.world, session)
    return me["id"] if me else None


def expand_events(events) -> set:
    names = set(events)
    if "*" in names:
        names = (names - {"*"}) | (EVENTS - NOT_IN_WILDCARD)
    return names


def retry_delays(retries: dict):
    """Delay before retry n (1-based): constant d, linear n·d, exponential 2^(n-1)·d + 0–20 % jitter."""
    policy = retries.get("policy") or "constant"
    delay = retries.get("delaySeconds")
    delay = 2.0 if delay is None else float(delay)

    def delay_for(n: int) -> float:
        if policy == "linear":
            return n * delay
        if policy == "exponential":
            return (2 ** (n - 1)) * delay * (1 + random.uniform(0, 0.2))
        return delay
    return delay_for
