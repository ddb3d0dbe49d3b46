"""Workspaces, people, roles, WhatsApp numbers and API keys."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.core.extensions import db
from webapp.models.base import UTCDateTime, utcnow

ROLES = ("owner", "admin", "member")


def password_hash_method():
    """werkzeug's hashing method for new passwords (PASSWORD_HASH_METHOD); checks read it off the hash."""
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
SUBSCRIPTION_STATES = ("trialing", "active", "past_due", "canceled")


class Workspace(db.Model):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    subscription_status: Mapped[str] = mapped_column(sa.String(20), default="trialing")
    trial_ends_at = mapped_column(UTCDateTime, nullable=True)
    # ISO 3166 region (e.g. "US") used to read phone numbers typed without a country code.
    default_region: Mapped[str | None] = mapped_column(sa.String(2))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    memberships = relationship("Membership", back_populates="workspace", cascade="all, delete-orphan")

    @property
    def subscription_active(self):
        if self.subscription_status == "active":
            return True
        if self.subscription_status == "trialing":
            return self.trial_ends_at is None or self.trial_ends_at > utcnow()
        return False

    @property
    def subscription_label(self):
        if self.subscription_status == "trialing" and not self.subscription_active:
            return "trial ended"
        return {"trialing": "trial", "active": "active", "past_due": "past due",
                "canceled": "canceled"}[self.subscription_status]

    @property
    def inactive_reason(self):
        """Why sync is paused, as the end of "Sync to Close is paused because …"."""
        return {"trial ended": "the trial has ended", "past due": "the subscription payment is past due",
                "canceled": "the subscription was canceled"}.get(self.subscription_label,
                                                                 f"the subscription is {self.subscription_label}")

    def set_subscription(self, status, trial_days=None):
        if status not in SUBSCRIPTION_STATES:
            raise ValueError(f"unknown subscription state {status!r}")
        self.subscription_status = status
        if status == "trialing":
            self.trial_ends_at = utcnow() + timedelta(days=14 if trial_days is None else trial_days)

    @property
    def owner(self):
        return next((m.user for m in self.memberships if m.role == "owner"), None)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    # Bumped on sign-out and password change: sessions that carry an older value stop working.
    session_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # The pages' language ("pt_BR"); None follows the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, method=password_hash_method())
        if self.session_version is not None:
            self.session_version += 1

    def get_id(self):
        # Flask-Login stores this in the session; the loader accepts it only while the version holds.
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self):
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def membership_in(self, workspace_id):
        return next((m for m in self.memberships if m.workspace_id == workspace_id), None)


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "user_id"),
        # Exactly one owner per workspace, enforced by the database.
        sa.Index("uq_one_owner_per_workspace", "workspace_id", unique=True,
                 sqlite_where=sa.text("role = 'owner'"),
                 postgresql_where=sa.text("role = 'owner'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(sa.String(10), default="member")
    # The Close user an owner/admin picked for this member, valid for that organization only
    # (webapp/messages/attribution.py); without one, the member's email decides.
    close_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    close_user_org_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    workspace = relationship("Workspace", back_populates="memberships")
    user = relationship("User", back_populates="memberships")
    # Numbers outlive a removed member (their message history must stay), so no cascade.
    numbers = relationship("WhatsAppNumber", back_populates="membership", passive_deletes=True)

    @property
    def is_manager(self):
        return self.role in ("owner", "admin")


class WhatsAppNumber(db.Model):
    __tablename__ = "whatsapp_numbers"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "e164"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    membership_id: Mapped[int | None] = mapped_column(sa.ForeignKey("memberships.id", ondelete="SET NULL"))
    e164: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(60), default="")
    last_synced_at = mapped_column(UTCDateTime, nullable=True)
    # Set when its member is removed: nothing of this number syncs (or is stored) from then on.
    stopped_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)

    membership = relationship("Membership", back_populates="numbers")
    workspace = relationship("Workspace")

    @property
    def region(self):
        import phonenumbers
        return phonenumbers.region_code_for_number(phonenumbers.parse(self.e164))


def hash_secret(value):
    # Keys are 32 random bytes: a fast hash is enough (nothing to brute-force).
    return hashlib.sha256(value.encode()).hexdigest()


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(80))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)
    last_used_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    # The new key, Fernet-encrypted, until the page that shows it once has been rendered.
    secret_once_enc: Mapped[str | None] = mapped_column(sa.Text)

    workspace = relationship("Workspace")

    @classmethod
    def generate(cls, workspace, name, created_by=None):
        """Returns (row, plaintext key). The plaintext is shown once and never stored."""
        plaintext = "cl_" + secrets.token_urlsafe(32)
        row = cls(workspace=workspace, name=name, prefix=plaintext[:10],
                  key_hash=hash_secret(plaintext), created_by_id=created_by.id if created_by else None)
        return row, plaintext

    @classmethod
    def find_active(cls, plaintext):
        return db.session.scalar(
            sa.select(cls).where(cls.key_hash == hash_secret(plaintext), cls.revoked_at.is_(None))
        )


class Invitation(db.Model):
    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(10), default="member")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow)
    expires_at = mapped_column(UTCDateTime)
    accepted_at = mapped_column(UTCDateTime, nullable=True)

    workspace = relationship("Workspace")

    @classmethod
    def create(cls, workspace, email, role, invited_by, days=7):
        token = secrets.token_urlsafe(24)
        row = cls(workspace=workspace, email=email.lower(), role=role, token_hash=hash_secret(token),
                  invited_by_id=invited_by.id, expires_at=utcnow() + timedelta(days=days))
        return row, token

    @classmethod
    def find_open(cls, token):
        row = db.session.scalar(sa.select(cls).where(cls.token_hash == hash_secret(token)))
        if row and row.accepted_at is None and row.expires_at > utcnow():
            return row
        return None
