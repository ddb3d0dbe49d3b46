import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.extensions import db
from webapp.models import Chat, Invitation, Membership, WhatsAppNumber
from webapp.signals import member_removed
from webapp.team import bp
from webapp.team.forms import ConfirmForm, InviteForm, NumberForm, RoleForm
from webapp.urls import mark_secret_page, public_url


def _render_team(invite_form=None, number_form=None, status=200, new_invite=None):
    workspace = current_workspace()
    members = db.session.scalars(
        sa.select(Membership).where(Membership.workspace_id == workspace.id).order_by(Membership.id)).all()
    invitations = db.session.scalars(
        sa.select(Invitation).where(Invitation.workspace_id == workspace.id,
                                    Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at.desc())).all()
    return render_template(
        "team/index.html", workspace=workspace, members=members, invitations=invitations,
        me=current_membership(), invite_form=invite_form or InviteForm(),
        number_form=number_form or NumberForm(), confirm_form=ConfirmForm(), role_form=RoleForm(),
        new_invite=new_invite,
    ), status


@bp.route("/")
@workspace_role("member")
def index():
    return _render_team()


@bp.route("/invitations", methods=["POST"])
@workspace_role("admin")
def invite():
    form = InviteForm()
    me = current_membership()
    if not form.validate_on_submit():
        return _render_team(invite_form=form, status=400)
    if form.role.data == "admin" and me.role != "owner":
        form.role.errors.append("Only the owner can invite admins.")
        return _render_team(invite_form=form, status=400)
    email = form.email.data.strip().lower()
    if any(m.user.email == email for m in me.workspace.memberships):
        form.email.errors.append("This person is already in the workspace.")
        return _render_team(invite_form=form, status=400)
    invitation, token = Invitation.create(me.workspace, email, form.role.data, current_user)
    db.session.add(invitation)
    db.session.commit()
    # Shown once in this response (not in the session cookie, not cached); built from PUBLIC_URL.
    mark_secret_page()
    return _render_team(new_invite={"email": email, "link": public_url("auth.accept_invite", token=token)})


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@workspace_role("admin")
def revoke_invitation(invitation_id):
    invitation = get_or_404_in_workspace(Invitation, invitation_id)
    if ConfirmForm().validate_on_submit():
        db.session.delete(invitation)
        db.session.commit()
        flash(f"Invitation for {invitation.email} revoked.", "info")
    return redirect(url_for("team.index"))


@bp.route("/members/<int:membership_id>/role", methods=["POST"])
@workspace_role("owner")
def change_role(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose member or admin.", "danger")
        return _render_team(status=400)
    if target.role == "owner":
        flash("The owner's role can't be changed; transfer ownership instead.", "danger")
        return _render_team(status=400)
    target.role = form.role.data
    db.session.commit()
    flash(f"{target.user.name} is now {target.role}.", "success")
    return redirect(url_for("team.index"))


@bp.route("/members/<int:membership_id>/remove", methods=["POST"])
@workspace_role("admin")
def remove_member(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    me = current_membership()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if target.role == "owner" or target.id == me.id:
        flash("The owner can't be removed, and you can't remove yourself.", "danger")
        return _render_team(status=400)
    if target.role == "admin" and me.role != "owner":
        abort(403)
    name = target.user.name
    member_removed.send(target, actor=current_user._get_current_object())
    db.session.delete(target)
    db.session.commit()
    flash(f"{name} was removed from the workspace.", "info")
    return redirect(url_for("team.index"))


@bp.route("/members/<int:membership_id>/transfer", methods=["POST"])
@workspace_role("owner")
def transfer_ownership(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    me = current_membership()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if target.id == me.id:
        flash("You are already the owner.", "info")
        return redirect(url_for("team.index"))
    me.role = "admin"
    db.session.flush()  # the one-owner index must see the old owner step down first
    target.role = "owner"
    db.session.commit()
    flash(f"{target.user.name} is now the owner; you are an admin.", "success")
    return redirect(url_for("team.index"))


@bp.route("/numbers", methods=["POST"])
@workspace_role("member")
def add_number():
    form = NumberForm()
    me = current_membership()
    if not form.validate_on_submit():
        return _render_team(number_form=form, status=400)
    taken = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == me.workspace_id, WhatsAppNumber.e164 == form.number.data))
    if taken is not None:
        form.number.errors.append("This number is already registered in this workspace.")
        return _render_team(number_form=form, status=400)
    db.session.add(WhatsAppNumber(workspace_id=me.workspace_id, membership=me,
                                  e164=form.number.data, label=form.label.data or ""))
    db.session.commit()
    flash(f"Number {form.number.data} added.", "success")
    return redirect(url_for("team.index"))


@bp.route("/numbers/<int:number_id>/delete", methods=["POST"])
@workspace_role("member")
def delete_number(number_id):
    number = get_or_404_in_workspace(WhatsAppNumber, number_id)
    if number.membership_id != current_membership().id:
        abort(403)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    has_history = db.session.scalar(sa.select(sa.func.count()).select_from(Chat)
                                    .where(Chat.whatsapp_number_id == number.id))
    if has_history:
        flash(f"{number.e164} has message history, which must stay visible; it can't be removed.", "danger")
        return _render_team(status=400)
    db.session.delete(number)
    db.session.commit()
    flash(f"Number {number.e164} removed.", "info")
    return redirect(url_for("team.index"))
