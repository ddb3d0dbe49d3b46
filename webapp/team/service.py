"""Team rules: invitations, roles, ownership transfer, removals and WhatsApp numbers.

Each function checks the rule, writes and commits, or raises TeamError with the sentence to
show (and which form field it belongs to). Views only translate that into a page.
"""
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.core.signals import member_removed
from webapp.models import Chat, Invitation, Membership, WhatsAppNumber


class TeamError(Exception):
    def __init__(self, message, field=None, status=400):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


def members(workspace_id):
    return db.session.scalars(sa.select(Membership).where(Membership.workspace_id == workspace_id)
                              .order_by(Membership.id)).all()


def open_invitations(workspace_id):
    return db.session.scalars(sa.select(Invitation).where(Invitation.workspace_id == workspace_id,
                                                          Invitation.accepted_at.is_(None))
                              .order_by(Invitation.created_at.desc())).all()


def invite(me, email, role, user):
    """Returns the one-time token of the new invitation."""
    if role == "admin" and me.role != "owner":
        raise TeamError("Only the owner can invite admins.", field="role")
    email = email.strip().lower()
    if any(m.user.email == email for m in me.workspace.memberships):
        raise TeamError("This person is already in the workspace.", field="email")
    invitation, token = Invitation.create(me.workspace, email, role, user)
    db.session.add(invitation)
    db.session.commit()
    return email, token


def revoke_invitation(invitation):
    db.session.delete(invitation)
    db.session.commit()


def change_role(target, role):
    if target.role == "owner":
        raise TeamError("The owner's role can't be changed; transfer ownership instead.")
    target.role = role
    db.session.commit()


def remove_member(me, target, actor):
    """Removes target; reactions (e.g. a Close auto-disconnect) run on the member_removed signal."""
    if target.role == "owner" or target.id == me.id:
        raise TeamError("The owner can't be removed, and you can't remove yourself.")
    if target.role == "admin" and me.role != "owner":
        raise TeamError("Only the owner can remove an admin.", status=403)
    member_removed.send(target, actor=actor)
    db.session.delete(target)
    db.session.commit()


def transfer_ownership(me, target):
    """False when target already is the owner (me)."""
    if target.id == me.id:
        return False
    me.role = "admin"
    db.session.flush()  # the one-owner index must see the old owner step down first
    target.role = "owner"
    db.session.commit()
    return True


def add_number(me, e164, label):
    taken = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == me.workspace_id, WhatsAppNumber.e164 == e164))
    if taken is not None:
        raise TeamError("This number is already registered in this workspace.", field="number")
    db.session.add(WhatsAppNumber(workspace_id=me.workspace_id, membership=me, e164=e164, label=label or ""))
    db.session.commit()


def delete_number(me, number):
    if number.membership_id != me.id:
        raise TeamError("Only the member who registered a number can remove it.", status=403)
    has_history = db.session.scalar(sa.select(sa.func.count()).select_from(Chat)
                                    .where(Chat.whatsapp_number_id == number.id))
    if has_history:
        raise TeamError(f"{number.e164} has message history, which must stay visible; it can't be removed.")
    db.session.delete(number)
    db.session.commit()
