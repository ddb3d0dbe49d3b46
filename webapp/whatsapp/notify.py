"""Tell the member and the owner/admins when a linked number stops working (in-app + email)."""
from webapp.core.extensions import db
from webapp.models import Notification
from webapp.notify import managers, send_email

PAGE = "/whatsapp/"


def number_trouble(link):
    """Adds notification rows (committed by the caller); returns the emails to send after commit."""
    people = {u.id: u for u in managers(db.session, link.workspace_id)}
    if link.membership is not None:
        people.setdefault(link.membership.user_id, link.membership.user)
    text = trouble_text(link)
    for user in people.values():
        db.session.add(Notification(workspace_id=link.workspace_id, user_id=user.id, text=text, link=PAGE))
    return [u.email for u in people.values()], text


def trouble_text(link):
    number = link.number.e164 if link.number else link.session_name
    failed = ("was unlinked from the phone and needs relinking: scan a new QR code on the WhatsApp page"
              if link.needs_rescan else
              "failed on the gateway and a restart did not bring it back: press Restart on the WhatsApp page "
              "(no new QR code needed); relink only if that does not help")
    what = {"failed": failed,
            "stopped": "stopped on the gateway: press Restart on the WhatsApp page",
            "unreachable": f"cannot be reached: the gateway {link.gateway.name} does not answer",
            "licence": f"waits for the gateway {link.gateway.name}: its operator must activate the gateway's "
                       "licence (nothing to relink)"}
    text = f"WhatsApp {number} is not syncing: it {what.get(link.state, link.state_label)}."
    return text + " Messages are fetched again once it works."


def connection_restarted(link, text):
    """The member and owner/admins see that Closeline restarted a dead connection (committed by the caller)."""
    number = link.number.e164 if link.number else link.session_name
    people = {u.id: u for u in managers(db.session, link.workspace_id)}
    if link.membership is not None:
        people.setdefault(link.membership.user_id, link.membership.user)
    for user in people.values():
        db.session.add(Notification(workspace_id=link.workspace_id, user_id=user.id,
                                    text=f"WhatsApp {number}: {text}", link=PAGE))


def member_numbers_stopped(membership, numbers, sessions):
    """The owner and admins learn that a removed member's numbers stopped (committed by the caller)."""
    who = membership.user.name or membership.user.email
    text = (f"{who} was removed from the workspace: WhatsApp {', '.join(numbers)} no longer syncs and nothing "
            f"of it is stored from now on." + (" Its session is being ended on the gateway." if sessions else ""))
    for user in managers(db.session, membership.workspace_id):
        if user.id != membership.user_id:
            db.session.add(Notification(workspace_id=membership.workspace_id, user_id=user.id, text=text, link=PAGE))


def send(recipients, text):
    send_email(recipients, "Closeline: a WhatsApp number stopped syncing", text)

