"""Team page: members, invitations, roles, WhatsApp numbers. Thin: the rules live in service.py."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.core.extensions import htmx
from webapp.core.forms import ConfirmForm
from webapp.core.urls import mark_secret_page, public_url
from webapp.models import Invitation, JobRun, Membership, WhatsAppNumber
from webapp.team import close_users, service
from webapp.team.forms import CloseUserForm, InviteForm, NumberForm, RoleForm

bp = Blueprint("team", __name__, url_prefix="/team")


def _render_team(invite_form=None, number_form=None, status=200, new_invite=None):
    workspace = current_workspace()
    members = service.members(workspace.id)
    return render_template(
        "team/index.html", workspace=workspace, members=members,
        invitations=service.open_invitations(workspace.id),
        me=current_membership(), invite_form=invite_form or InviteForm(),
        number_form=number_form or NumberForm(), confirm_form=ConfirmForm(), role_form=RoleForm(),
        new_invite=new_invite, close=close_users.overview(workspace.id, members),
        describe_close_user=close_users.describe,
    ), status


def _refused(exc, form=None, **forms):
    """A broken rule: the message on its form field (or flashed), the page again with exc.status."""
    if exc.status == 403:
        abort(403)
    if form is not None and exc.field:
        getattr(form, exc.field).errors.append(exc.message)
    else:
        flash(exc.message, "danger")
    return _render_team(status=exc.status, **forms)


def _apply(call, notice, level="success", form=None, **forms):
    """Run one service call: a broken rule shows the page again, success flashes notice(result)."""
    try:
        result = call()
    except service.TeamError as exc:
        return _refused(exc, form, **forms)
    flash(notice(result), level)
    return redirect(url_for("team.index"))


def _confirmed():
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.route("/")
@workspace_role("member")
def index():
    return _render_team()


@bp.route("/invitations", methods=["POST"])
@workspace_role("admin")
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return _render_team(invite_form=form, status=400)
    try:
        email, token = service.invite(current_membership(), form.email.data, form.role.data, current_user)
    except service.TeamError as exc:
        return _refused(exc, form, invite_form=form)
    # Shown once in this response (not in the session cookie, not cached); built from PUBLIC_URL.
    mark_secret_page()
    return _render_team(new_invite={"email": email, "link": public_url("auth.accept_invite", token=token)})


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@workspace_role("admin")
def revoke_invitation(invitation_id):
    invitation = get_or_404_in_workspace(Invitation, invitation_id)
    if ConfirmForm().validate_on_submit():
        service.revoke_invitation(invitation)
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
    return _apply(lambda: service.change_role(target, form.role.data),
                  lambda _: f"{target.user.name} is now {target.role}.")


@bp.route("/members/<int:membership_id>/remove", methods=["POST"])
@workspace_role("admin")
def remove_member(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    _confirmed()
    name = target.user.name
    return _apply(lambda: service.remove_member(current_membership(), target, current_user._get_current_object()),
                  lambda _: f"{name} was removed from the workspace.", "info")


@bp.route("/members/<int:membership_id>/transfer", methods=["POST"])
@workspace_role("owner")
def transfer_ownership(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    _confirmed()
    return _apply(lambda: service.transfer_ownership(current_membership(), target),
                  lambda moved: f"{target.user.name} is now the owner; you are an admin." if moved
                  else "You are already the owner.")


@bp.route("/numbers", methods=["POST"])
@workspace_role("member")
def add_number():
    form = NumberForm()
    if not form.validate_on_submit():
        return _render_team(number_form=form, status=400)
    return _apply(lambda: service.add_number(current_membership(), form.number.data, form.label.data),
                  lambda _: f"Number {form.number.data} added.", form=form, number_form=form)


@bp.route("/numbers/<int:number_id>/delete", methods=["POST"])
@workspace_role("member")
def delete_number(number_id):
    number = get_or_404_in_workspace(WhatsAppNumber, number_id)
    _confirmed()
    return _apply(lambda: service.delete_number(current_membership(), number), lambda _: f"Number {number.e164} removed.", "info")


@bp.route("/members/<int:membership_id>/close-user", methods=["POST"])
@workspace_role("admin")
def choose_close_user(membership_id):
    target = get_or_404_in_workspace(Membership, membership_id)
    form = CloseUserForm()
    if not form.validate_on_submit():
        abort(400)
    return _apply(lambda: close_users.choose(target, form.close_user_id.data or "", current_user),
                  lambda found: f"{target.user.name}'s messages now go to Close as "
                                f"{close_users.describe(found.user)}." if found.user_id else
                  f"{target.user.name} has no Close user: their messages go to Close as the user who connected it.",
                  "success")


@bp.route("/close-users/refresh", methods=["POST"])
@workspace_role("admin")
def refresh_close_users():
    """Read the organization's users from Close again (a connection check job); the page polls it."""
    _confirmed()
    try:
        close_users.refresh(current_workspace(), current_user)
    except service.TeamError as exc:
        flash(exc.message, "warning")
    return redirect(url_for("team.index") + "#team-close-users")


@bp.route("/close-users/status")
@workspace_role("admin")
def close_users_status():
    """The refresh's progress for the page's poll; once it has finished, the page reloads itself."""
    run = _check_run(request.args.get("run", type=int))
    if run is None or not run.is_running:
        response = make_response("", 200)
        if htmx:
            response.headers["HX-Refresh"] = "true"
        return response
    return render_template("team/partials/_close_users_refresh.html", job=run)


def _check_run(run_id):
    if not run_id:
        return None
    run = get_or_404_in_workspace(JobRun, run_id)
    return run if run.kind == "check" else None
