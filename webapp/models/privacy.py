"""Privacy controls of a workspace: settings, the exclusion list, and history imports."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

EXCLUSION_KINDS = ("phone", "label")


class PrivacySettings(db.Model):
    """One row per workspace, created on first change; a missing row means the defaults."""

    __tablename__ = "privacy_settings"
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    # Sync only chats whose phone already exists in Close (never create a lead).
    allow_list_only: Mapped[bool] = mapped_column(default=False)
    redact_codes: Mapped[bool] = mapped_column(default=True)
    redact_cards: Mapped[bool] = mapped_column(default=True)
    # Members see only their own numbers' messages unless the owner opens the whole log to them.
    members_see_all_messages: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Days after which a handled message loses its text and files (None: kept).
    retention_days: Mapped[int | None] = mapped_column(nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ExclusionEntry(db.Model):
    """The owner/admin exclusion list: a customer phone (E.164) or a gateway chat label."""

    __tablename__ = "exclusion_entries"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10), default="phone")   # phone | label
    value: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)


class HistoryImport(db.Model):
    """One history import of a linked number: dry run (its own job) → confirmed → running → done | failed."""

    __tablename__ = "history_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    whatsapp_number_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_numbers.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    since = mapped_column(UTCDateTime)
    until = mapped_column(UTCDateTime)
    scope: Mapped[str] = mapped_column(sa.String(10), default="all")   # all | known
    state: Mapped[str] = mapped_column(sa.String(12), default="planned")
    # planning | plan_failed (the dry run) → planned → storing → feeding → done | failed
    plan: Mapped[dict] = mapped_column(sa.JSON, default=dict)       # the dry run's counts
    progress: Mapped[dict] = mapped_column(sa.JSON, default=dict)   # {"chats_done": [...], "messages": n, ...}
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    number = relationship("WhatsAppNumber")
