"""History import pages (owner/admin): period and scope → dry run → confirm → live progress.
Thin: the rules live in history_import/service.py; the gateway side registers how history is read."""
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.core.extensions import db, htmx
from webapp.history_import import service as history
from webapp.models import HistoryImport, WhatsAppNumber, utcnow

bp = Blueprint("history", __name__, url_prefix="/history")


class BadPeriod(ValueError):
    pass


def period_from(form, now=None):
    """(since, until) from 7/30/90 days or two dates (YYYY-MM-DD, whole days, UTC)."""
    now = now or utcnow()
    days = form.get("period", "30")
    if days in {str(d) for d in history.PERIODS}:
        return now - timedelta(days=int(days)), now
    try:
        start = datetime.combine(datetime.strptime(form.get("since", ""), "%Y-%m-%d").date(), time.min, UTC)
        end = datetime.combine(datetime.strptime(form.get("until", ""), "%Y-%m-%d").date(), time.max, UTC)
    except ValueError:
        raise BadPeriod("Pick 7, 30 or 90 days, or give both dates as YYYY-MM-DD.") from None
    if start > end:
        raise BadPeriod("The start date is after the end date.")
    return start, min(end, now)


def _numbers(workspace_id):
    return db.session.scalars(sa.select(WhatsAppNumber).where(WhatsAppNumber.workspace_id == workspace_id)
                              .order_by(WhatsAppNumber.id)).all()


@bp.get("/")
@workspace_role("admin")
def page():
    workspace = current_workspace()
    imports = db.session.scalars(sa.select(HistoryImport).where(HistoryImport.workspace_id == workspace.id)
                                 .order_by(HistoryImport.id.desc()).limit(20)).all()
    return render_template("history_import/page.html", numbers=_numbers(workspace.id), imports=imports,
                           chosen=request.args.get("number", type=int),
                           periods=history.PERIODS, labels=history.SKIP_LABELS)


@bp.post("/dry-run")
@workspace_role("admin")
def dry_run():
    number = get_or_404_in_workspace(WhatsAppNumber, request.form.get("number_id", type=int) or 0)
    scope = request.form.get("scope", "all")
    try:
        if scope not in history.SCOPES:
            raise BadPeriod("Pick a scope: all chats, or chats already in Close.")
        since, until = period_from(request.form)
        row = history.request_plan(number, since, until, scope, current_membership().user_id)
    except (BadPeriod, history.NoHistory) as exc:
        flash(str(exc), "danger")
        return redirect(url_for("history.page")), 303
    return redirect(url_for("history.detail", import_id=row.id))


@bp.get("/<int:import_id>")
@workspace_role("admin")
def detail(import_id):
    """The import's page; its dry-run section alone while that section polls (HTMX)."""
    row = get_or_404_in_workspace(HistoryImport, import_id)
    history.write_off_stalled_plan(row)
    template = "history_import/_plan.html" if htmx else "history_import/detail.html"
    return render_template(template, row=row, labels=history.SKIP_LABELS, status=history.status(row))


@bp.get("/<int:import_id>/progress")
@workspace_role("admin")
def progress(import_id):
    row = get_or_404_in_workspace(HistoryImport, import_id)
    return render_template("history_import/_progress.html", row=row, status=history.status(row))


@bp.post("/<int:import_id>/start")
@workspace_role("admin")
def start(import_id):
    row = get_or_404_in_workspace(HistoryImport, import_id)
    if row.state in ("planning", "plan_failed"):
        flash("The dry run has not finished: wait for its counts (or run it again), then import.", "warning")
    elif row.state == "done":
        flash("This import is finished. Run a new dry run to import again (nothing is written twice).", "info")
    else:
        history.start(row)
        flash("Import started: live messages keep going first; this page shows the progress.", "success")
    return redirect(url_for("history.detail", import_id=row.id))
