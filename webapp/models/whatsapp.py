"""WhatsApp gateways (kinds: clients/gateways/registry.py), the numbers linked through them, the webhook inbox."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core import vocabulary
from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

# Number health shown to people (the one vocabulary in core/vocabulary.py); `since` says from when.
LINK_STATES = {state: b.label for state, b in vocabulary.NUMBER.items()}
# A number that was linked and is now in one of these is not syncing: people are told.
TROUBLE_STATES = ("failed", "stopped", "unreachable", "licence")
# Why a failed number needs a new QR code (set as its last_error); any other failure is cured by a restart.
UNLINKED_ON_PHONE = ("WhatsApp no longer has this linked device (it was removed on the phone, or logged out): "
                     "relink the number and scan a new QR code.")


class Gateway(db.Model):
    """A WhatsApp gateway server (e.g. WAHA) a workspace links numbers through."""

    __tablename__ = "whatsapp_gateways"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="waha")
    name: Mapped[str] = mapped_column(sa.String(80))
    base_url: Mapped[str] = mapped_column(sa.String(300))
    api_key_enc: Mapped[str | None] = mapped_column(sa.Text)  # Fernet, like Close tokens
    version: Mapped[str] = mapped_column(sa.String(40), default="")
    # Servers that only serve the session named `default` (WAHA Core before 2026.6.1).
    single_session: Mapped[bool] = mapped_column(default=False)
    last_checked_at = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    links = relationship("NumberLink", back_populates="gateway", cascade="all, delete-orphan",
                         passive_deletes=True)
    created_by = relationship("User")


class NumberLink(db.Model):
    """One gateway session = one member's WhatsApp account being (or already) linked."""

    __tablename__ = "whatsapp_number_links"
    __table_args__ = (sa.UniqueConstraint("gateway_id", "session_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    gateway_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_gateways.id", ondelete="CASCADE"))
    membership_id: Mapped[int | None] = mapped_column(sa.ForeignKey("memberships.id", ondelete="SET NULL"))
    # Known once the session is WORKING and `me` is read.
    whatsapp_number_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("whatsapp_numbers.id", ondelete="SET NULL"), index=True)
    session_name: Mapped[str] = mapped_column(sa.String(60))
    state: Mapped[str] = mapped_column(sa.String(20), default="starting")
    gateway_status: Mapped[str] = mapped_column(sa.String(40), default="")
    # When the gateway reported `gateway_status`: status webhooks arrive out of order, older ones lose.
    gateway_status_at = mapped_column(UTCDateTime, nullable=True)
    state_since = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    hmac_key_enc: Mapped[str] = mapped_column(sa.Text)
    me_id: Mapped[str | None] = mapped_column(sa.String(80))
    me_lid: Mapped[str | None] = mapped_column(sa.String(80))
    linked_at = mapped_column(UTCDateTime, nullable=True)
    was_linked: Mapped[bool] = mapped_column(default=False)
    # When Closeline last restarted the session hoping its stored login still works (a FAILED
    # session: restart first). Cleared once it works again; a QR code after it means the phone
    # unlinked the device, a second FAILED means the restart did not help.
    restarted_at = mapped_column(UTCDateTime, nullable=True)
    recovered_count: Mapped[int] = mapped_column(default=0)
    last_recovery_at = mapped_column(UTCDateTime, nullable=True)
    last_recovery_error: Mapped[str | None] = mapped_column(sa.Text)
    # Reconciliation (whatsapp/reconcile.py). `reconciled_until`: every chat of the number is
    # accounted for up to this gateway time (chats ahead of it keep their own ChatWatermark).
    reconciled_until = mapped_column(UTCDateTime, nullable=True)
    reconcile_started_at = mapped_column(UTCDateTime, nullable=True)   # set while a run works
    reconcile_reason: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    # {"chats_done", "chats_total", "stored"} of the running (or last) run, for the page.
    reconcile_progress: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Messages the gateway showed that could not be stored yet: {message id: {"at", "reason"}}.
    unstored: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The last webhook delivery processed for this session (webhook silence is measured from it).
    last_webhook_at = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    gateway = relationship("Gateway", back_populates="links")
    membership = relationship("Membership")
    number = relationship("WhatsAppNumber")

    @property
    def badge_key(self):
        """The vocabulary.NUMBER key of this link's badge."""
        return "failed_restart" if self.state == "failed" and not self.needs_rescan else self.state

    @property
    def state_label(self):
        if self.state == "failed" and not self.needs_rescan:
            return LINK_STATES["failed_restart"]
        return LINK_STATES.get(self.state, self.state)

    @property
    def needs_rescan(self):
        """Only a new QR code brings this number back: the phone unlinked the device, it never
        linked, or its gateway can't restart a session (then it was never restarted)."""
        return self.state == "failed" and (self.last_error == UNLINKED_ON_PHONE or not self.was_linked
                                           or self.restarted_at is None)

    @property
    def is_final(self):
        """No more QR polling: linked, or a state only a person's action changes."""
        return self.state in ("linked", "failed", "stopped", "refused")


class GatewayEvent(db.Model):
    """The webhook inbox: a delivery is stored here before the 200, then processed by a job.

    `dedupe_key` makes repeated deliveries of one message a no-op (NULL for events without one)."""

    __tablename__ = "whatsapp_gateway_events"
    __table_args__ = (
        sa.UniqueConstraint("gateway_id", "dedupe_key"),
        sa.Index("ix_gateway_events_state", "gateway_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    gateway_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_gateways.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(250))
    event: Mapped[str] = mapped_column(sa.String(40))
    session_name: Mapped[str] = mapped_column(sa.String(60), default="")
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # received → done | ignored | held (retried) | failed (retried) | dead
    state: Mapped[str] = mapped_column(sa.String(10), default="received")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    processed_at = mapped_column(UTCDateTime, nullable=True)


class ChatWatermark(db.Model):
    """How far one chat of a linked number is reconciled: every message the gateway lists for the
    chat up to `reconciled_until` (the gateway's own clock) is held by Closeline. Written only by
    reconciliation; a webhook never moves it (a newer message arriving says nothing about older
    ones that were lost)."""

    __tablename__ = "whatsapp_chat_watermarks"
    __table_args__ = (sa.UniqueConstraint("link_id", "chat_jid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_number_links.id", ondelete="CASCADE"))
    chat_jid: Mapped[str] = mapped_column(sa.String(200))   # as the gateway names the chat
    reconciled_until = mapped_column(UTCDateTime)
    # The chat has more than `reconciled_until` still to read (its customer's number is hidden, a
    # run reached its limit, the gateway failed): the next run lists chats from here at least.
    behind: Mapped[bool] = mapped_column(default=False)
    checked_at = mapped_column(UTCDateTime, default=utcnow)


class LidMapping(db.Model):
    """Cache of WhatsApp LID → phone, per gateway session (from the gateway's LID API)."""

    __tablename__ = "whatsapp_lid_mappings"
    __table_args__ = (sa.UniqueConstraint("gateway_id", "lid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_gateways.id", ondelete="CASCADE"))
    lid: Mapped[str] = mapped_column(sa.String(80))
    phone_jid: Mapped[str] = mapped_column(sa.String(80))
    created_at = mapped_column(UTCDateTime, default=utcnow)


class WhatsAppSettings(db.Model):
    """Workspace-wide WhatsApp settings (one row per workspace, created on first change)."""

    __tablename__ = "whatsapp_settings"
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    # Off: a message deleted on WhatsApp stays in Close, noted "deleted on WhatsApp".
    mirror_deletions: Mapped[bool] = mapped_column(default=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
