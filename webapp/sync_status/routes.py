"""Sync status page (all roles) and the owner/admin actions on it. Thin: rules live in actions.py.

Live: a small watcher (`changes`) asks every few seconds whether the log changed, slower while it
stays quiet; when it did, the log's first page reloads and brings the totals along out of band.
The dashboard uses the same watcher for its counters, chart and numbers.
"""
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.clients.close.client import CloseError
from webapp.core.extensions import db, htmx
from webapp.messages import actions, changes, close_access, moves, search
from webapp.messages import gate as privacy
from webapp.messages.states import STATES
from webapp.messages.totals import pending
from webapp.messages.totals import totals as state_totals
from webapp.models import Chat, Message
from webapp.sync_status import message_log

bp = Blueprint("sync", __name__, url_prefix="/sync")


def _filters():
    args = request.values
    state = args.get("state") if args.get("state") in STATES else None
    number = args.get("number", type=int)
    chat = args.get("chat", type=int)
    q = (args.get("q") or "").strip()[:100] or None
    return {"state": state, "number_id": number, "chat_id": chat, "q": q}


def _log_context():
    workspace = current_workspace()
    filters = _filters()
    before = request.args.get("before", type=int)
    visible = privacy.visible_number_ids(current_membership())
    rows, next_before = message_log.log_page(workspace.id, before=before, number_ids=visible, **filters)
    query = {k: v for k, v in {"state": filters["state"], "number": filters["number_id"],
                               "chat": filters["chat_id"], "q": filters["q"]}.items() if v}
    counts = state_totals(workspace.id)
    return {"rows": rows, "next_before": next_before, "before": before, "filters": filters, "query": query,
            "lead_url": close_access.lead_url, "can_manage": current_membership().is_manager,
            "lead_names": message_log.lead_names(workspace.id, [m.close_lead_id for m in rows]),
            "totals": counts, "pending": pending(counts), "numbers": message_log.numbers_overview(workspace.id, visible),
            "short_search": search.is_short(filters["q"]), "short_search_rows": search.SHORT_QUERY_ROWS}


def _page_context():
    workspace = current_workspace()
    context = _log_context()
    context.update(workspace=workspace, connection=close_access.live_connection(workspace.id),
                   watch=changes.watch(current_membership()),
                   review=message_log.review_queue(workspace.id), states=STATES, move=None)
    chat_id = context["filters"]["chat_id"]
    connection = context["connection"]
    context["every_chat_query"] = {k: v for k, v in context["query"].items() if k != "chat"}
    context["chat_view"] = message_log.chat_view(workspace.id, chat_id, privacy.visible_number_ids(current_membership()),
                                                 connection.close_org_id if connection else None)
    if chat_id and context["can_manage"] and context["connection"]:
        chat = db.session.get(Chat, chat_id)
        if chat is not None and chat.workspace_id == workspace.id:
            context.update(move=moves.move_status(chat), move_chat_id=chat.id)
    return context


@bp.get("/")
@workspace_role("member")
def status():
    return render_template("sync_status/status.html", **_page_context())


@bp.get("/log")
@workspace_role("member")
def log():
    return render_template("sync_status/partials/_log.html", oob_totals=bool(htmx), **_log_context())


@bp.get("/changes")
@workspace_role("member")
def changes_since():
    """The watcher's poll: the next watcher, and `syncChanged` when the log moved since `v`."""
    membership = current_membership()
    now = changes.token(membership.workspace_id, privacy.visible_number_ids(membership))
    changed = request.args.get("v") != now
    step = changes.next_step(request.args.get("step", 0, type=int), changed)
    response = make_response(render_template("sync_status/partials/_watch.html",
                                             watch=changes.watch(membership, step, now)))
    if changed:
        response.headers["HX-Trigger"] = "syncChanged"
    return response


@bp.get("/totals")
@workspace_role("member")
def totals():
    workspace = current_workspace()
    return render_template("sync_status/partials/_totals.html", totals=state_totals(workspace.id),
                           numbers=message_log.numbers_overview(workspace.id))


def _back(notice, level="success"):
    if htmx:
        return render_template("sync_status/partials/_log.html", oob_totals=True, notice=notice, notice_level=level,
                               **_log_context())
    flash(notice, level)
    return redirect(url_for("sync.status", **{k: v for k, v in request.args.items()}))


@bp.post("/messages/<int:message_id>/retry")
@workspace_role("admin")
def retry_message(message_id):
    message = get_or_404_in_workspace(Message, message_id)
    still_held = actions.why_still_held(message)
    if still_held:  # queuing it again would only hold it again: say why instead
        return _back(still_held, "warning")
    count = actions.retry_messages(message.workspace_id, [message.id])
    return _back("Queued again." if count else "Nothing to retry.")


@bp.post("/retry")
@workspace_role("admin")
def retry_all():
    workspace = current_workspace()
    state = request.form.get("state")
    states = (state,) if state in ("failed", "dead") else ("failed", "dead")
    count = actions.retry_messages(workspace.id, None, states)
    flash(f"{count} message(s) queued again.", "success")
    return redirect(url_for("sync.status"))


@bp.post("/chats/<int:chat_id>/reroute")
@workspace_role("admin")
def reroute(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    lead_id = (request.form.get("lead_id_typed") or "").strip() or request.form.get("lead_id")
    try:
        link = actions.reroute_chat(chat.workspace_id, chat.id, lead_id,
                                    move_existing=request.form.get("move_existing") in ("1", "on", "yes", "true"))
    except actions.RerouteError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("sync.status", chat=chat.id), 303)
    flash(f"Chat {chat.display_name or chat.remote_phone} now goes to the lead {link.lead_name or link.lead_id}."
          + (" Its synced messages are being moved." if request.form.get("move_existing") else ""), "success")
    return redirect(url_for("sync.status", chat=chat.id))


@bp.get("/chats/<int:chat_id>/move")
@workspace_role("admin")
def move_status(chat_id):
    """The chat's move progress (an HTMX fragment that polls while a move is under way)."""
    chat = get_or_404_in_workspace(Chat, chat_id)
    return render_template("sync_status/partials/_move_status.html", move=moves.move_status(chat), move_chat_id=chat.id)


@bp.post("/chats/<int:chat_id>/move")
@workspace_role("admin")
def move(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    if moves.move_status(chat) is None:
        flash("Connect Close and route this chat to a lead first.", "danger")
        return redirect(url_for("sync.status", chat=chat.id), 303)
    moves.enqueue_move(chat.id)
    flash("Moving this chat's synced messages to its lead; this page shows the progress.", "success")
    return redirect(url_for("sync.status", chat=chat.id))


@bp.get("/leads")
@workspace_role("admin")
def lead_search():
    """The re-route picker: Close leads matching the typed name (an HTMX fragment)."""
    query = request.args.get("lead_query", "")
    try:
        leads = actions.search_leads(current_workspace().id, query)
        problem = None
    except (CloseError, close_access.NoCredentials):
        leads, problem = [], "Close could not be searched right now; try again, or paste a lead id."
    return render_template("partials/_lead_choices.html", leads=leads, query=query.strip(), problem=problem,
                           prefix="lead-choice")


@bp.post("/chats/<int:chat_id>/resolve")
@workspace_role("admin")
def resolve(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    actions.resolve_review(chat.workspace_id, chat.id)
    flash("Kept the picked lead.", "success")
    return redirect(url_for("sync.status"))
