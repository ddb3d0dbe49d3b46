"""Tell the owner and admins about connection trouble: in-app notification, plus email with SMTP."""
import logging
import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app, url_for

from webapp.models import Membership, Notification, User

log = logging.getLogger(__name__)


def managers(session, workspace_id):
    return session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.workspace_id == workspace_id, Membership.role.in_(("owner", "admin"))).order_by(User.id)).all()


def page_link():
    try:
        return url_for("close.page")
    except RuntimeError:  # outside a request (RQ job)
        return "/integrations/close/"


def announce(session, workspace_id, text):
    """Add notification rows (committed by the caller); returns the emails to send after commit."""
    people = managers(session, workspace_id)
    link = page_link()
    for user in people:
        session.add(Notification(workspace_id=workspace_id, user_id=user.id, text=text, link=link))
    return [u.email for u in people]


def send_email(recipients, subject, text):
    """Best effort: a broken mail server must never break a disconnect."""
    host = current_app.config.get("SMTP_HOST")
    if not host or not recipients:
        return False
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = current_app.config.get("SMTP_FROM", "closeline@localhost")
    message["To"] = ", ".join(recipients)
    message.set_content(f"{text}\n\nOpen Closeline → Close CRM for details.\n")
    try:
        with smtplib.SMTP(host, current_app.config.get("SMTP_PORT", 25), timeout=10) as smtp:
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("Could not send the Close notification email: %s", type(exc).__name__)
        return False
