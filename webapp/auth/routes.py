from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import bp
from webapp.auth.forms import AcceptInviteForm, JoinForm, LoginForm
from webapp.extensions import db, limiter
from webapp.models import Invitation, Membership, User, utcnow


def _safe_next(target):
    """Only same-site relative paths are followed after sign-in."""
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.dashboard")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.strip().lower()))
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append("Wrong email or password.")
        else:
            session.clear()
            login_user(user)
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/workspace", methods=["POST"])
@login_required
def switch_workspace():
    workspace_id = request.form.get("workspace_id", type=int)
    if workspace_id is None or current_user.membership_in(workspace_id) is None:
        abort(404)
    session["workspace_id"] = workspace_id
    return redirect(url_for("main.dashboard"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token):
    invitation = Invitation.find_open(token)
    if invitation is None:
        return render_template("auth/invite_invalid.html"), 404
    existing = db.session.scalar(sa.select(User).where(User.email == invitation.email))
    if existing is not None:
        if not current_user.is_authenticated or current_user.id != existing.id:
            flash(f"Sign in as {invitation.email} to accept the invitation.", "info")
            return redirect(url_for("auth.login", next=url_for("auth.accept_invite", token=token)))
        form = JoinForm()
        if form.validate_on_submit():
            _join(invitation, existing)
            return redirect(url_for("main.dashboard"))
        return render_template("auth/invite.html", form=form, invitation=invitation, new_user=False)
    form = AcceptInviteForm()
    if form.validate_on_submit():
        user = User(email=invitation.email, name=form.name.data.strip())
        user.set_password(form.password.data)
        db.session.add(user)
        _join(invitation, user)
        login_user(user)
        return redirect(url_for("main.dashboard"))
    return render_template("auth/invite.html", form=form, invitation=invitation, new_user=True)


def _join(invitation, user):
    if user.membership_in(invitation.workspace_id) is None:
        db.session.add(Membership(workspace_id=invitation.workspace_id, user=user, role=invitation.role))
    invitation.accepted_at = utcnow()
    db.session.commit()
    session["workspace_id"] = invitation.workspace_id
    flash(f"Welcome to {invitation.workspace.name}.", "success")
