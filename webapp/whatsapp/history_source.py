"""A linked number's WhatsApp history, read from its gateway, as a history-import source
(webapp/history_import/service.py): chats() and messages(chat) in the generic ingestion shape.

Built on the gateway-kind interface (active_chats, messages_since) and the same conversion as
webhooks and gap recovery (messages.to_item), so ids, LID resolution and media are identical and
an imported message that also arrived live is stored once. The dry run reads without media.
"""
import dataclasses

import sqlalchemy as sa
from pydantic import ValidationError

from webapp.clients.gateways.base import GatewayError
from webapp.core.extensions import db
from webapp.history_import.service import HistoryChat, NoHistory
from webapp.messages.schema import IncomingMessage
from webapp.models import NumberLink
from webapp.whatsapp import messages
from webapp.whatsapp.gateways_service import client_for


class GatewayHistory:
    def __init__(self, link, since, until, media=True):
        self.link, self.since, self.until, self.media = link, since, until, media
        self.client = client_for(link.gateway)
        self.me = {"id": link.me_id, "lid": link.me_lid}
        self.held = 0            # chats/messages whose phone the gateway can't tell yet (LID)
        self._jids = {}

    def chats(self):
        try:
            jids = self.client.active_chats(self.link.session_name, self.since.timestamp())
        except GatewayError as exc:
            raise NoHistory(f"The gateway did not answer ({exc.message}); try again when it is back.") from exc
        found = []
        for jid in jids:
            try:
                phone_jid = messages.resolve_chat(self.link, self.client, jid)
            except messages.Hold:
                self.held += 1
                continue
            self._jids[phone_jid] = jid
            found.append(HistoryChat(id=phone_jid, kind="direct", phone="+" + phone_jid.split("@")[0]))
        return found

    def messages(self, chat):
        try:
            found = self.client.messages_since(self.link.session_name, self._jids.get(chat.id, chat.id),
                                               self.since.timestamp(), self.me)
        except GatewayError as exc:
            raise NoHistory(f"The gateway did not answer ({exc.message}); resume the import later.") from exc
        items = []
        for message in found:
            if message.sent_at > self.until:
                continue
            if not self.media:
                message = dataclasses.replace(message, media=[], text=message.text or "[media]")
            try:
                item = messages.to_item(self.link, self.client, message)
                if item is not None:
                    items.append(IncomingMessage.model_validate(item))
            except (messages.Hold, ValidationError):
                self.held += 1
        return items


def source_for(number, since, until, media=True):
    link = db.session.scalar(sa.select(NumberLink).where(NumberLink.whatsapp_number_id == number.id,
                                                         NumberLink.state == "linked"))
    if link is None:
        raise NoHistory(f"{number.e164} is not linked through a WhatsApp gateway: link it on the WhatsApp page first.")
    return GatewayHistory(link, since, until, media=media)
