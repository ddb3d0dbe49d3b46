"""Privacy page: "never sync this chat" (any member, for chats on their own number), and for
owner/admin the exclusion list, allow-list mode, redaction switches and opt-in group chats.
Thin: the rules live in messages/gate.py and privacy/groups.py."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.core.phones import regions_for
from webapp.core.urls import local_path_or
from webapp.messages import erasure
from webapp.messages import gate as privacy
from webapp.messages.redaction import PATTERNS
from webapp.models import Chat, ExclusionEntry
from webapp.privacy import groups

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _checked(name):
    return request.form.get(name) in ("1", "on", "yes", "true")


@bp.get("/")
@workspace_role("member")
def page():
    workspace = current_workspace()
    membership = current_membership()
    manager = membership.is_manager
    return render_template("privacy/page.html", workspace=workspace, membership=membership,
                           settings=privacy.settings_for(workspace.id),
                           entries=privacy.entries(workspace.id) if manager else [],
                           excluded=privacy.excluded_chats(workspace.id, privacy.visible_number_ids(membership)),
                           groups=groups.group_chats(workspace.id) if manager else [], patterns=PATTERNS,
                           oldest_text_goes_at=erasure.oldest_text_goes_at(workspace.id) if manager else None,
                           max_retention=erasure.MAX_RETENTION_DAYS)


@bp.post("/settings")
@workspace_role("admin")
def save_settings():
    workspace = current_workspace()
    privacy.save_settings(workspace.id, allow_list_only=_checked("allow_list_only"),
                          redact_codes=_checked("redact_codes"), redact_cards=_checked("redact_cards"))
    flash("Privacy settings saved. They apply to messages arriving from now on.", "success")
    return redirect(url_for("privacy.page"))


@bp.post("/visibility")
@workspace_role("owner")
def save_visibility():
    open_log = _checked("members_see_all_messages")
    privacy.save_visibility(current_workspace().id, members_see_all_messages=open_log)
    flash("Members now see every message in the sync log." if open_log else
          "Members now see only their own numbers' messages.", "success")
    return redirect(url_for("privacy.page"))


@bp.post("/retention")
@workspace_role("admin")
def save_retention():
    try:
        days = erasure.parse_retention(request.form.get("retention_days"))
    except privacy.PrivacyError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("privacy.page")), 303
    erasure.save_retention(current_workspace().id, days)
    flash(f"Message texts and files are erased {days} days after a message is handled (ids and states stay)."
          if days else "Message texts are kept (retention off).", "success")
    return redirect(url_for("privacy.page"))


@bp.post("/forget")
@workspace_role("admin")
def forget_customer():
    try:
        counts = erasure.forget_customer(current_workspace().id, request.form.get("phone"),
                                         regions_for(current_membership()), actor=current_user)
    except privacy.PrivacyError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("privacy.page")), 303
    flash(f"Forgotten: {counts['messages']} message(s) and {counts['chats']} chat(s) erased from Closeline, and the "
          "number is on the exclusion list. What Close already holds stays in Close: delete it there if needed.",
          "success")
    return redirect(url_for("privacy.page"))


@bp.post("/exclusions")
@workspace_role("admin")
def add_exclusion():
    workspace = current_workspace()
    kind = request.form.get("kind", "phone")
    try:
        membership = current_membership()
        entry = privacy.add_entry(workspace.id, kind, request.form.get("value"), membership.user_id,
                                  regions=regions_for(membership))
    except privacy.PrivacyError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("privacy.page")), 303
    flash(f"{entry.value} is excluded: its messages are never synced and their text is not stored.", "success")
    return redirect(url_for("privacy.page"))


@bp.post("/exclusions/<int:entry_id>/delete")
@workspace_role("admin")
def remove_exclusion(entry_id):
    entry = get_or_404_in_workspace(ExclusionEntry, entry_id)
    privacy.remove_entry(entry.workspace_id, entry.id)
    flash("Removed from the exclusion list: new messages sync again.", "success")
    return redirect(url_for("privacy.page"))


@bp.post("/chats/<int:chat_id>/exclude")
@workspace_role("member")
def exclude_chat(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    try:
        count = privacy.exclude_chat(current_membership(), chat)
    except privacy.PrivacyError as exc:
        flash(str(exc), "danger")
        return _back(), 303
    flash(f"{chat.display_name or chat.remote_phone or 'The chat'} is never synced again"
          + (f"; {count} waiting message(s) were emptied and skipped." if count else ".")
          + " Closeline erased its copy of the chat's messages; the ones already in Close stay in Close.", "success")
    return _back()


@bp.post("/chats/<int:chat_id>/include")
@workspace_role("member")
def include_chat(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    try:
        privacy.include_chat(current_membership(), chat)
    except privacy.PrivacyError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("privacy.page")), 303
    flash("The chat syncs again from its next message.", "success")
    return redirect(url_for("privacy.page"))


def _back():
    return redirect(local_path_or(request.form.get("next"), url_for("privacy.page")))


@bp.get("/leads")
@workspace_role("admin")
def lead_search():
    """The lead picker's suggestions (htmx autocomplete)."""
    workspace = current_workspace()
    chat_id = request.args.get("chat_id", type=int)
    try:
        leads, problem = groups.search_leads(workspace.id, request.args.get("q")), None
    except groups.GroupError as exc:
        leads, problem = [], str(exc)
    return render_template("partials/_lead_choices.html", leads=leads, problem=problem,
                           prefix=f"lead-{chat_id}", query=(request.args.get("q") or "").strip())


@bp.post("/groups/<int:chat_id>/pin")
@workspace_role("admin")
def pin_group(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    try:
        groups.pin(chat, request.form.get("lead_id"))
    except groups.GroupError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("privacy.page")), 303
    flash(f"Group {chat.display_name or chat.external_id} now syncs to {chat.pinned_lead_name or chat.pinned_lead_id}.",
          "success")
    return redirect(url_for("privacy.page"))


@bp.post("/groups/<int:chat_id>/unpin")
@workspace_role("admin")
def unpin_group(chat_id):
    chat = get_or_404_in_workspace(Chat, chat_id)
    groups.unpin(chat)
    flash("Unpinned: new messages of this group are skipped. Messages already in Close stay.", "success")
    return redirect(url_for("privacy.page"))
