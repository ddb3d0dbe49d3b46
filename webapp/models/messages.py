"""WhatsApp chats and messages (the outbox) and the sticky chat → Close lead links."""
import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

# received → queued → synced | skipped | held | failed → dead
MESSAGE_STATES = ("received", "queued", "synced", "skipped", "held", "failed", "dead")

# A gateway message's stored id is "<from me>_<chat JID>_<WhatsApp's id>[_<participant>]"
# (whatsapp/messages.canonical_id); every other source's id is WhatsApp's id as it is.
_GATEWAY_ID = re.compile(r"^(?:true|false)_[^_@]+@[^_]+_([^_]+)")


def whatsapp_id_of(external_id):
    """The message id WhatsApp itself shows (what a person pastes into the log's search)."""
    if not external_id:
        return None
    found = _GATEWAY_ID.match(external_id)
    return (found.group(1) if found else external_id)[:200]


def _whatsapp_id_default(context):
    return whatsapp_id_of(context.get_current_parameters().get("external_id"))


class Chat(db.Model):
    __tablename__ = "chats"
    __table_args__ = (sa.UniqueConstraint("whatsapp_number_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    whatsapp_number_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_numbers.id", ondelete="RESTRICT"))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(10), default="direct")  # direct | group
    remote_phone: Mapped[str | None] = mapped_column(sa.String(20))  # E.164
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    # "Never sync this chat" (privacy): set by the member who owns the number, or an owner/admin.
    excluded_at = mapped_column(UTCDateTime, nullable=True)
    excluded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Opt-in group chats: a group syncs only while pinned to a Close lead (and its contact).
    pinned_lead_id: Mapped[str | None] = mapped_column(sa.String(64))
    pinned_contact_id: Mapped[str | None] = mapped_column(sa.String(64))
    pinned_lead_name: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at = mapped_column(UTCDateTime, default=utcnow)

    number = relationship("WhatsAppNumber")


class ChatLink(db.Model):
    """Sticky routing: a chat's lead in one Close organization. Kept across disconnects."""

    __tablename__ = "chat_links"
    __table_args__ = (sa.UniqueConstraint("chat_id", "close_org_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(sa.ForeignKey("chats.id", ondelete="CASCADE"))
    close_org_id: Mapped[str] = mapped_column(sa.String(64))
    lead_id: Mapped[str | None] = mapped_column(sa.String(64))
    contact_id: Mapped[str | None] = mapped_column(sa.String(64))
    # The lead's name in Close, cached when the lead is resolved (shown instead of the id).
    lead_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # found (one match), ambiguous (several: in review queue), created, manual (re-routed)
    source: Mapped[str] = mapped_column(sa.String(20), default="found")
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_note: Mapped[str] = mapped_column(sa.Text, default="")
    # Ambiguous matches offered in the review queue: [{"lead_id", "contact_id", "name", "date_created"}]
    candidates: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    chat = relationship("Chat")


class Message(db.Model):
    """One WhatsApp message. The row is the source of truth; jobs only carry its id."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "external_id"),
        # (…, id) suffixes serve the outbox claim (oldest first) and the status log's keyset pages.
        sa.Index("ix_messages_ws_state", "workspace_id", "state", "id"),
        sa.Index("ix_messages_ws_id", "workspace_id", "id"),
        sa.Index("ix_messages_number_id", "whatsapp_number_id", "id"),
        sa.Index("ix_messages_state_next", "state", "next_attempt_at"),
        # The dashboard's hourly chart reads the last days of outcomes per workspace.
        sa.Index("ix_messages_ws_updated", "workspace_id", "updated_at"),
        # The log's search by the ids people copy: WhatsApp's message id, Close's activity and lead ids.
        sa.Index("ix_messages_ws_whatsapp_id", "workspace_id", "whatsapp_id"),
        sa.Index("ix_messages_ws_activity", "workspace_id", "close_activity_id"),
        sa.Index("ix_messages_ws_lead", "workspace_id", "close_lead_id", "id"),
        # Replies whose original lands later are found by it (one lookup per synced message).
        sa.Index("ix_messages_ws_reply_to", "workspace_id", "reply_to_external_id",
                 sqlite_where=sa.text("reply_to_external_id IS NOT NULL"),
                 postgresql_where=sa.text("reply_to_external_id IS NOT NULL")),
        # Only rows under a lease: "is an earlier row of this chat being worked on?" (outbox claim).
        sa.Index("ix_messages_chat_leased", "chat_id", "id", sqlite_where=sa.text("lease_until IS NOT NULL"),
                 postgresql_where=sa.text("lease_until IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(sa.ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    whatsapp_number_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_numbers.id", ondelete="RESTRICT"))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    # WhatsApp's own id of the message (from external_id when the row is written): for the search.
    whatsapp_id: Mapped[str | None] = mapped_column(sa.String(200), default=_whatsapp_id_default)
    source: Mapped[str] = mapped_column(sa.String(10), default="api")  # api | webhook | demo
    direction: Mapped[str] = mapped_column(sa.String(10))  # incoming | outgoing
    sent_at = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    reply_to_external_id: Mapped[str | None] = mapped_column(sa.String(200))
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Group chats: who wrote it (name, phone as sent by the source).
    sender_name: Mapped[str] = mapped_column(sa.String(200), default="")
    sender_phone: Mapped[str | None] = mapped_column(sa.String(40))
    # What was redacted from the text before storing: {"one-time code": 1, "card number": 2}.
    redactions: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    state: Mapped[str] = mapped_column(sa.String(10), default="received")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at = mapped_column(UTCDateTime, nullable=True)
    queued_at = mapped_column(UTCDateTime, nullable=True)
    # Set while a drain job works on the row; an expired lease means its worker died.
    lease_until = mapped_column(UTCDateTime, nullable=True)
    close_org_id: Mapped[str | None] = mapped_column(sa.String(64))
    close_lead_id: Mapped[str | None] = mapped_column(sa.String(64))
    close_activity_id: Mapped[str | None] = mapped_column(sa.String(64))
    synced_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    chat = relationship("Chat")
    number = relationship("WhatsAppNumber")
