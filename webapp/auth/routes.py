import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.auth.forms import AcceptInviteForm, JoinForm, LoginForm
from webapp.core.extensions import db, limiter
from webapp.core.urls import local_path_or
from webapp.models import Invitation, Membership, User, utcnow
from webapp.models.accounts import password_hash_method

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_key():
    """Failed sign-ins are counted per account and client address (behind ProxyFix: the real one)."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"login:{email}:{request.remote_addr}"


def _failed_sign_in(response):
    return response.status_code != 302   # a successful sign-in redirects; it never counts


# Compared against when the email is unknown, so both paths cost one password hash (per method).
_DUMMY_HASHES = {}


def _dummy_hash():
    method = password_hash_method()
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("closeline-timing-equaliser", method=method)
    return _DUMMY_HASHES[method]


def _authenticate(email, password):
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_key, deduct_when=_failed_sign_in)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = _authenticate(form.email.data.strip().lower(), form.password.data)
        if user is None:
            form.password.errors.append("Wrong email or password.")
        else:
            session.clear()
            login_user(user)
            return redirect(local_path_or(form.next.data, url_for("main.dashboard")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        current_user.end_sessions()   # this session and any copy of its cookie stop working
        db.session.commit()
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
