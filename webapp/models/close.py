"""The Close connection of a workspace, its history, background job runs and notifications."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

# Why a connection ended, in a few words (the dashboard's headline, the history); the Close card
# explains each one in full (webapp/close_connection/reasons.py).
DISCONNECT_REASONS = {
    "user": "Disconnected by a workspace admin",
    "org_deleted": "The Close organization no longer exists",  # older rows only: Close gives no such signal
    "owner_gone": "The Close user who connected is no longer an active member of the organization",
    "member_removed": "The workspace member who connected was removed from the workspace",
    # Close answers a revoked grant, a removed user and a deleted organization alike (close-api.md
    # §2.7, §3.7): say what is known, not a guess.
    "access_revoked": "Close no longer accepts the connection",
}


class CloseConnection(db.Model):
    """One row per successful connect. At most one live row (disconnected_at IS NULL) per workspace."""

    __tablename__ = "close_connections"
    __table_args__ = (
        sa.Index("uq_live_connection_per_workspace", "workspace_id", unique=True,
                 sqlite_where=sa.text("disconnected_at IS NULL"),
                 postgresql_where=sa.text("disconnected_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    close_org_id: Mapped[str] = mapped_column(sa.String(64))
    close_org_name: Mapped[str] = mapped_column(sa.String(200), default="")
    close_user_id: Mapped[str] = mapped_column(sa.String(64))
    close_user_email: Mapped[str] = mapped_column(sa.String(254), default="")
    close_user_name: Mapped[str] = mapped_column(sa.String(200), default="")
    connected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    connected_at = mapped_column(UTCDateTime, default=utcnow)

    # Fernet ciphertexts; never plaintext (see webapp/clients/close/tokens.py).
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    token_expires_at = mapped_column(UTCDateTime, nullable=True)
    token_version: Mapped[int] = mapped_column(default=0)

    last_validated_at = mapped_column(UTCDateTime, nullable=True)
    unreachable_since = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    permission_warning: Mapped[str | None] = mapped_column(sa.Text)

    # Settings (audited on change).
    auto_create_lead: Mapped[bool] = mapped_column(default=True)
    new_lead_status_id: Mapped[str | None] = mapped_column(sa.String(64))
    sync_attachments: Mapped[bool] = mapped_column(default=True)
    catch_up_held: Mapped[bool] = mapped_column(default=True)
    # Incoming messages also notify in Close's Inbox (POST …?send_to_inbox=true); off by default.
    send_to_inbox: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Cached from Close at connect/validation: [{"id","label"}] and the organization's active users
    # [{"id","email","name"}] (members are attributed to them: webapp/messages/attribution.py).
    lead_statuses: Mapped[list] = mapped_column(sa.JSON, default=list)
    close_users: Mapped[list] = mapped_column(sa.JSON, default=list)

    disconnected_at = mapped_column(UTCDateTime, nullable=True)
    disconnect_reason: Mapped[str | None] = mapped_column(sa.String(30))
    disconnected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    workspace = relationship("Workspace")
    connected_by = relationship("User", foreign_keys=[connected_by_id])
    disconnected_by = relationship("User", foreign_keys=[disconnected_by_id])

    @property
    def is_live(self):
        return self.disconnected_at is None

    @property
    def disconnect_reason_text(self):
        return DISCONNECT_REASONS.get(self.disconnect_reason or "", self.disconnect_reason or "")


class ConnectionEvent(db.Model):
    """The connection history: connects, refusals, settings changes, test syncs, disconnects."""

    __tablename__ = "connection_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("close_connections.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    created_at = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = relationship("User")


class JobRun(db.Model):
    """State of a user-visible background job (test sync, catch-up, a gateway's connection test): the
    row the page polls, which outlives Redis TTLs."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    # The connection the run checked: results of another connection are not shown as current.
    connection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("close_connections.id", ondelete="SET NULL"))
    rq_job_id: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")  # queued/running/finished/failed
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    result: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)
    finished_at = mapped_column(UTCDateTime, nullable=True)

    @property
    def is_running(self):
        return self.status in ("queued", "running")


class Notification(db.Model):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at = mapped_column(UTCDateTime, default=utcnow)
    read_at = mapped_column(UTCDateTime, nullable=True)
