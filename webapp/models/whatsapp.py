"""WhatsApp gateways (kinds: clients/gateways/registry.py), the numbers linked through them, the webhook inbox."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core import vocabulary
from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

# Number health shown to people (the one vocabulary in core/vocabulary.py); `since` says from when.
LINK_STATES = {state: b.label for state, b in vocabulary.NUMBER.items()}
# A number that was linked and is now in one of these is not syncing: people are told.
TROUBLE_STATES = ("failed", "stopped", "unreachable")


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
    recovered_count: Mapped[int] = mapped_column(default=0)
    last_recovery_at = mapped_column(UTCDateTime, nullable=True)
    last_recovery_error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    gateway = relationship("Gateway", back_populates="links")
    membership = relationship("Membership")
    number = relationship("WhatsAppNumber")

    @property
    def state_label(self):
        return LINK_STATES.get(self.state, self.state)

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
