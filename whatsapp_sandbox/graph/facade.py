"""WhatsApp Cloud API numbers: webhooks signed with X-Hub-Signature-256 for incoming messages
(text, replies, media by id) and for statuses of messages sent through the API."""
import hashlib
import hmac
import json
import time

from .. import ids
from ..webhooks import Delivery
from ..world import GraphNumber, WorldError


class GraphFacade:
    name = "graph"

    def __init__(self, sb):
        self.sb = sb

    @property
    def numbers(self) -> dict:
        return self.sb.world.graph_numbers

    def reset(self):
        self.numbers.clear()
        for pair in filter(None, (self.sb.config["GRAPH_SEED_NUMBERS"] or "").split(",")):
            number, _, pnid = pair.strip().partition("=")
            if number in self.sb.world.phones:
                self.register(number, phone_number_id=pnid or None)

    def tick(self):
        pass

    def register(self, number: str, phone_number_id=None, webhook_url=None) -> dict:
        if any(n.number == number for n in self.numbers.values()):
            raise WorldError(409, f"{number} is already a Cloud API number here.")
        pnid = str(phone_number_id or ids.digits(15))
        if not pnid.isdigit() or pnid in self.numbers:
            raise WorldError(400, "phone_number_id must be digits and unused.")
        phone = self.sb.world.phones[number]
        self.numbers[pnid] = GraphNumber(phone_number_id=pnid, waba_id=ids.digits(15), number=number,
                                         verified_name=f"{phone.name} (Business)", webhook_url=webhook_url)
        return self._row(self.numbers[pnid])

    def by_number(self, number: str) -> GraphNumber | None:
        return next((n for n in self.numbers.values() if n.number == number), None)

    def view(self) -> list:
        return [self._row(n) for n in self.numbers.values()]

    def _row(self, n) -> dict:
        return {"phone_number_id": n.phone_number_id, "waba_id": n.waba_id, "number": n.number,
                "verified_name": n.verified_name, "webhook_url": n.webhook_url or self.sb.config["GRAPH_WEBHOOK_URL"],
                "status": "CONNECTED"}

    # --- events ------------------------------------------------------------------------------
    def on_message(self, msg):
        if msg.chat_kind != "direct":
            return  # Cloud API numbers have no groups, statuses or channels
        receiving = self.by_number(msg.recipient)
        if receiving is not None:
            self.emit(receiving, {"contacts": [{"profile": {"name": self.sb.world.phones[msg.sender].name},
                                                "wa_id": msg.sender[1:]}],
                                  "messages": [self.message_object(msg)]})
        sending = self.by_number(msg.sender)
        if sending is not None and msg.via == ("graph", sending.phone_number_id):
            for delay, status in ((0.3, "sent"), (0.6, "delivered"), (1.0, "read")):
                self.sb.world.later(delay, lambda status=status: self._status(sending, msg, status))

    def on_edit(self, msg, action_id):
        pass  # the Cloud API reports neither edits nor deletions by the customer

    def on_revoke(self, msg):
        pass

    def _status(self, number, msg, status):
        if self.numbers.get(number.phone_number_id) is not number:
            return
        self.emit(number, {"statuses": [{"id": msg.wamid, "status": status, "timestamp": str(int(time.time())),
                                         "recipient_id": msg.recipient[1:]}]})

    def emit_error(self, number, code: int, title: str, details: str):
        self.emit(number, {"errors": [{"code": code, "title": title, "message": title,
                                       "error_data": {"details": details}}]})

    def message_object(self, msg) -> dict:
        out = {"from": msg.sender[1:], "id": msg.wamid, "timestamp": str(msg.timestamp)}
        quoted = self.sb.world.by_wa_id.get(msg.reply_to) if msg.reply_to else None
        if quoted is not None:
            out["context"] = {"from": quoted.sender[1:], "id": quoted.wamid}
        if msg.location:
            out.update(type="location", location={k: v for k, v in msg.location.items() if v is not None})
            return out
        if msg.contact:
            first = msg.contact["name"].split()[0]
            out.update(type="contacts", contacts=[{
                "name": {"formatted_name": msg.contact["name"], "first_name": first},
                "phones": [{"phone": msg.contact["phone"], "wa_id": msg.contact["phone"].lstrip("+"), "type": "CELL"}]}])
            return out
        if msg.media is None:
            out.update(type="text", text={"body": msg.text})
            return out
        media = msg.media
        kind = media.kind
        body = {"mime_type": media.mimetype, "sha256": hashlib.sha256(media.data).hexdigest(), "id": msg.media_id}
        if kind == "audio":
            body["voice"] = media.voice
        elif msg.text:
            body["caption"] = msg.text
        if kind == "document":
            body["filename"] = media.filename or "file"
        out.update({"type": kind, kind: body})
        return out

    def emit(self, number, value: dict):
        url = number.webhook_url or self.sb.config["GRAPH_WEBHOOK_URL"]
        if not url:
            return
        phone = self.sb.world.phones[number.number]
        envelope = {"object": "whatsapp_business_account", "entry": [{"id": number.waba_id, "changes": [{
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": phone.digits, "phone_number_id": number.phone_number_id},
                      **value},
            "field": "messages"}]}]}
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        secret = self.sb.config["GRAPH_APP_SECRET"].encode()
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
                   "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}
        event = "statuses" if "statuses" in value else ("errors" if "errors" in value else "messages")
        self.sb.dispatcher.enqueue(Delivery(facade="graph", target=number.phone_number_id, event=event, url=url,
                                            body=body, headers=headers, max_retries=10,
                                            delay_for=lambda n: min(2.0 ** n, 3600.0)))
