"""WhatsApp Cloud API phone numbers registered by a workspace's owner/admin.

Meta's webhook names the business number by `metadata.phone_number_id`; that id picks exactly one
workspace (unique across the deployment), so numbers that members add for themselves never attract
another workspace's webhook traffic."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class CloudApiNumber(db.Model):
    __tablename__ = "cloud_api_numbers"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    phone_number_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    whatsapp_number_id: Mapped[int] = mapped_column(sa.ForeignKey("whatsapp_numbers.id", ondelete="CASCADE"))
    registered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)
    # Graph API access token (Fernet, like Close tokens): media ids in webhooks are resolved with it.
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    # The newest `errors` entry Meta's webhook reported for this number (shown on the WhatsApp page).
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_error_at = mapped_column(UTCDateTime, nullable=True)

    number = relationship("WhatsAppNumber")
    workspace = relationship("Workspace")
