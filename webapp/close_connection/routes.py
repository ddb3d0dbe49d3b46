"""Close CRM page: one card (full page, or the card fragment for HTMX), OAuth redirect/callback, actions.

Views check who may do what (workspace_role) and call services; the rules live in service.py.
"""
import hmac
import json

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from webapp.access import current_membership, current_workspace, workspace_role
from webapp.clients.close import checks, oauth
from webapp.clients.close.tokens import live_connection
from webapp.close_connection import reasons, service, test_runs
from webapp.close_connection.forms import ActionForm, DisconnectForm, SettingsForm
from webapp.core import crypto, server_secrets, vocabulary
from webapp.core.extensions import htmx
from webapp.messages.actions import count_held, count_waiting

bp = Blueprint("close", __name__, url_prefix="/integrations/close")

PENDING = "close_oauth"  # session key: state + PKCE verifier of the one authorization in flight
REFUSAL = "close_last_refusal"  # session key: why the last connect was refused (for the checklist)
SHARED = "close_shared_pending"  # session key: a connect waiting for "connect anyway" (org used elsewhere)
SHARED_TTL = 600  # seconds the fresh token waits (encrypted, on the server) for that answer


def _card_context(notice=None, level="info", settings_form=None, confirm_disconnect=False):
    workspace = current_workspace()
    membership = current_membership()
    state, connection = service.card_state(workspace)
    live = connection if connection is not None and connection.is_live else None
    job = service.current_job(workspace.id, live, test_runs.running_job(workspace.id))
    if live is not None and settings_form is None:
        settings_form = SettingsForm(live, formdata=None)
    return {
        "workspace": workspace, "membership": membership, "can_manage": membership.is_manager,
        "state": state, "connection": connection, "job": job,
        "checklist": checks.checklist(membership, live, session.get(REFUSAL),
                                      managers_text=service.managers_text(workspace.id)),
        "attention": service.attention(live),
        "close_key": vocabulary.close_condition(state, live),
        "shared_with": service.shared_with(live),
        "waiting": count_waiting(workspace.id) if live is not None and live.unreachable_since else 0,
        "settings_form": settings_form,
        "confirm_disconnect": confirm_disconnect and live is not None,
        "held_disconnected": count_held(workspace.id, "disconnected") if live is not None else 0,
        "connect_blocker": service.connect_blocker(workspace),
        "roles_url": checks.roles_url(),
        "explanation": reasons.explain(connection) if state == "auto_disconnected" else None,
        "authorized_apps_url": reasons.authorized_apps_url(),
        "notice": notice, "notice_level": level,
    }


def _card(status=200, **kwargs):
    response = make_response(render_template("close_connection/partials/_card.html", **_card_context(**kwargs)), status)
    # An action may have written history, and so may the job a polling card is watching (a check,
    # a test sync): the list below reloads with each answer. The card polls only while a job runs,
    # so the history stops asking once the job's last answer (and its history entry) has arrived.
    response.headers["HX-Trigger"] = "closeHistory"
    response.vary.add("HX-Request")
    return response


def _respond(notice, level="info", **kwargs):
    """HTMX: the updated card. Plain form post (no JavaScript): flash and back to the page (PRG)."""
    if htmx:
        return _card(notice=notice, level=level, **kwargs)
    if notice:
        flash(notice, "danger" if level == "danger" else level)
    return redirect(url_for("close.page"))


@bp.get("/")
@workspace_role("member")
def page():
    if htmx:
        return _card()
    context = _card_context()
    context["events"] = service.history(context["workspace"].id) if context["can_manage"] else []
    response = make_response(render_template("close_connection/page.html", **context))
    response.vary.add("HX-Request")
    return response


@bp.get("/history")
@workspace_role("admin")
def history():
    if not htmx:
        return redirect(url_for("close.page"))
    return render_template("close_connection/partials/_history.html", events=service.history(current_workspace().id))


# --- connect --------------------------------------------------------------------------------------

@bp.post("/connect")
@workspace_role("admin")
def connect():
    workspace = current_workspace()
    if not ActionForm().validate_on_submit():
        return _respond("Your form expired. Reload the page and try again.", "danger")
    blocker = service.start_blocker(workspace, current_user)
    if blocker:
        return _respond(blocker, "warning")
    url, state, verifier = oauth.authorization_request()
    # The PKCE verifier stays on the server; the (client-readable) session holds only a handle.
    session[PENDING] = {"state": state, "verifier_ref": server_secrets.keep(verifier), "workspace_id": workspace.id,
                        "user_id": current_user.id}
    if htmx:  # a full-page navigation to Close's consent screen
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)


def _refused(message, detail=None, kind="connect_refused"):
    """Nothing is stored but the history entry; the page explains what happened. The checklist
    forgets an earlier attempt's findings: this attempt checked nothing in Close."""
    session.pop(REFUSAL, None)
    service.note_refusal(current_workspace(), current_user, detail or message, kind=kind)
    flash(message, "danger")
    return redirect(url_for("close.page"))


def _ignored(message):
    """A callback that is not the answer to this browser's connect (no or another `state`): anyone
    can make a browser open it, so it changes nothing — no history entry, the connect in progress
    (if any) stays pending. It only says why nothing happened."""
    flash(message, "danger")
    return redirect(url_for("close.page"))


@bp.get("/callback")
@workspace_role("admin")
def callback():
    pending = session.get(PENDING)
    state = request.args.get("state") or ""
    error = request.args.get("error")
    if pending is None:
        return _ignored("This answer from Close was already used or no connect was started. "
                        "Nothing was stored; click Connect to try again.")
    if error == "access_denied" and not state and not request.args.get("code"):
        # Close's decline may carry no state (close-api.md §2.2); unproven, it changes nothing.
        return _ignored("You declined on Close's consent screen. Nothing was connected or stored; "
                        "click Connect to try again.")
    if not hmac.compare_digest(state, pending["state"]) or pending["workspace_id"] != current_workspace().id \
            or pending["user_id"] != current_user.id:
        return _ignored("The answer from Close did not match the connect you started (state mismatch). "
                        "Nothing was stored; click Connect to try again.")
    session.pop(PENDING, None)  # proven: single use from here on, a replayed callback finds nothing
    if error == "access_denied" and not request.args.get("code"):
        return _refused("You declined on Close's consent screen. Nothing was connected or stored; "
                        "click Connect to try again.", "declined on Close's consent screen; nothing was connected",
                        kind="connect_denied")
    if error or not request.args.get("code"):
        return _refused("Close did not authorize the connection. Nothing was stored; click Connect to try again.")
    try:
        token = oauth.exchange_code(request.args["code"], server_secrets.take(pending.get("verifier_ref")) or "")
    except oauth.OAuthRejected:
        return _refused("Close refused to complete the connection. Nothing was stored; "
                        "click Connect to try again.", "Close refused to complete the connection")
    except oauth.OAuthUnavailable:
        return _refused("Close could not be reached to complete the connection. Nothing was stored; "
                        "try again in a minute.", "Close could not be reached to complete the connection")
    return _complete(token)


def _complete(token, shared_ok=False):
    try:
        connection = service.complete_connect(current_workspace(), current_user, token, shared_ok=shared_ok)
    except service.ConnectRefused as exc:
        session[REFUSAL] = {"missing": exc.missing, "no_account": exc.no_account, "email": exc.email,
                            "org_name": exc.org_name}
        flash(exc.message, "danger")
        return redirect(url_for("close.page"))
    except service.SharedOrganization as exc:
        # Asked before anything is stored; the fresh token waits encrypted on the server, not in the cookie.
        session[SHARED] = {"ref": server_secrets.keep(crypto.encrypt(json.dumps(token)), ttl=SHARED_TTL),
                           "workspace_id": current_workspace().id, "user_id": current_user.id,
                           "org_name": exc.org_name, "others": exc.others}
        return redirect(url_for("close.shared"))
    session.pop(REFUSAL, None)
    flash(f"Connected to the Close organization {connection.close_org_name}.", "success")
    if getattr(connection, "settings_note", ""):
        flash(connection.settings_note, "warning")
    return redirect(url_for("close.page"))


def _shared_pending():
    pending = session.get(SHARED)
    if not pending or pending["workspace_id"] != current_workspace().id or pending["user_id"] != current_user.id:
        return None
    return pending


@bp.route("/shared", methods=["GET", "POST"])
@workspace_role("admin")
def shared():
    """The organization picked on Close is already connected to another workspace: connect anyway,
    or cancel (the fresh grant is then revoked). Nothing is stored until "Connect anyway"."""
    pending = _shared_pending()
    if pending is None:
        flash("No connect is waiting for an answer. Click Connect to start one.", "info")
        return redirect(url_for("close.page"))
    if request.method == "GET":
        return render_template("close_connection/shared.html", pending=pending, form=ActionForm())
    if not ActionForm().validate_on_submit():
        flash("Your form expired. Click Connect to start again.", "danger")
        return redirect(url_for("close.page"))
    session.pop(SHARED, None)
    kept = server_secrets.take(pending["ref"])
    if kept is None:
        flash("The answer from Close waited too long and expired. Nothing was stored; click Connect to start again.",
              "warning")
        return redirect(url_for("close.page"))
    token = json.loads(crypto.decrypt(kept))
    if request.form.get("answer") != "connect":
        service.cancel_shared_connect(current_workspace(), current_user, token, pending["org_name"])
        flash(f"Not connected: {pending['org_name']} stays with the other workspace only. Nothing was stored.", "info")
        return redirect(url_for("close.page"))
    return _complete(token, shared_ok=True)


# --- connected actions --------------------------------------------------------------------------

def _live_or_none():
    return live_connection(current_workspace().id)


@bp.post("/settings")
@workspace_role("admin")
def settings():
    connection = _live_or_none()
    if connection is None:
        return _respond("The workspace is not connected to Close.", "warning")
    form = SettingsForm(connection)
    if not form.validate_on_submit():
        if htmx:
            return _card(settings_form=form, notice="The settings were not saved: fix the marked field.",
                         level="danger")
        flash("The settings were not saved: pick one of the organization's lead statuses.", "danger")
        return redirect(url_for("close.page"))
    changes = service.update_settings(connection, form.data, current_user)
    return _respond("Settings saved: " + "; ".join(changes) if changes else "Nothing changed.", "success")


def _start_run(kind):
    if not ActionForm().validate_on_submit():
        return _respond("Your form expired. Reload the page and try again.", "danger")
    try:
        test_runs.start(current_workspace(), current_user, kind)
    except test_runs.NotStartable as exc:
        return _respond(str(exc), "warning")
    return _respond(None)


@bp.post("/test-sync")
@workspace_role("admin")
def test_sync():
    return _start_run("test_sync")


@bp.post("/check")
@workspace_role("admin")
def check_now():
    """Check connection now: the periodic validation as a job; the card shows its result live."""
    return _start_run("check")


@bp.post("/catch-up")
@workspace_role("admin")
def catch_up():
    return _start_run("catch_up")


@bp.route("/disconnect", methods=["GET", "POST"])
@workspace_role("admin")
def disconnect():
    connection = _live_or_none()
    if request.method == "GET":
        if not htmx:
            context = _card_context(confirm_disconnect=True)
            context["events"] = service.history(context["workspace"].id)
            return render_template("close_connection/page.html", **context)
        return _card(confirm_disconnect=True)
    if connection is None:
        return _respond("The workspace is not connected to Close.", "warning")
    if not DisconnectForm().validate_on_submit():
        return _respond("Confirm the disconnect to continue.", "warning", confirm_disconnect=True)
    service.disconnect(connection, current_user)
    return _respond("Disconnected from Close. Everything already synced stays in Close.", "success")
