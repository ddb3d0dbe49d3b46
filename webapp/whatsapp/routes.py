"""The WhatsApp page: gateways (owner/admin), linking numbers (every member for their own,
owner/admin for anyone's), number health, the deletions setting."""
import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.account import cloud_numbers
from webapp.clients.gateways.base import GatewayError
from webapp.core.extensions import db, htmx
from webapp.core.forms import ConfirmForm
from webapp.core.phones import InvalidPhone
from webapp.models import Gateway, Membership, NumberLink
from webapp.whatsapp import gateways_service, health, inbox, linking, reconcile, settings
from webapp.whatsapp.forms import GatewayForm, LinkForm, PairingForm, SettingsForm

bp = Blueprint("whatsapp", __name__, url_prefix="/whatsapp")


def _link_or_404(link_id):
    """A link of the current workspace the signed-in person may act on (own, or any for managers)."""
    link = get_or_404_in_workspace(NumberLink, link_id)
    me = current_membership()
    if not me.is_manager and link.membership_id != me.id:
        abort(404)
    return link


def _link_form(workspace, me):
    form = LinkForm()
    form.gateway_id.choices = [(g.id, g.name) for g in gateways_service.gateways_of(workspace.id)]
    members = db.session.scalars(sa.select(Membership).where(Membership.workspace_id == workspace.id)
                                 .order_by(Membership.id)).all() if me.is_manager else [me]
    form.membership_id.choices = [(m.id, f"{m.user.name} ({m.user.email})") for m in members]
    if request.method == "GET":
        form.membership_id.data = me.id
    return form


def _render(gateway_form=None, link_form=None, status=200):
    workspace, me = current_workspace(), current_membership()
    links = gateways_service.links_of(workspace.id)
    if not me.is_manager:
        links = [link for link in links if link.membership_id == me.id]
    return render_template(
        "whatsapp/page.html", workspace=workspace, me=me, links=links,
        gateways=gateways_service.gateways_of(workspace.id) if me.is_manager else [],
        gateway_tests={g.id: gateways_service.latest_test(g) for g in gateways_service.gateways_of(workspace.id)}
        if me.is_manager else {},
        has_gateways=bool(gateways_service.gateways_of(workspace.id)),
        gateway_form=gateway_form or GatewayForm(), link_form=link_form or _link_form(workspace, me),
        settings_form=SettingsForm(mirror_deletions=settings.mirror_deletions(workspace.id)),
        confirm_form=ConfirmForm(), events=inbox.counts_by_state(workspace.id),
        accounted={link.id: reconcile.accounted(link) for link in links},
        cloud_numbers=cloud_numbers.registered(workspace.id) if me.is_manager else []), status


@bp.route("/")
@workspace_role("member")
def page():
    return _render()


# -- gateways (owner/admin) ------------------------------------------------------------------------------

@bp.route("/gateways", methods=["POST"])
@workspace_role("admin")
def add_gateway():
    form = GatewayForm()
    if not form.validate_on_submit():
        return _render(gateway_form=form, status=400)
    try:
        gateway = gateways_service.add_gateway(current_workspace().id, name=form.name.data,
                                               base_url=form.base_url.data, api_key=form.api_key.data,
                                               kind=form.kind.data, created_by=current_user)
    except gateways_service.InvalidGateway as exc:
        for field, message in exc.errors.items():
            getattr(form, field).errors.append(message)
        return _render(gateway_form=form, status=400)
    gateways_service.request_test(gateway, current_user)
    flash(f"Gateway {gateway.name} added. Its connection is being tested: the answer appears on its card.", "success")
    return redirect(url_for("whatsapp.page"))


@bp.route("/gateways/<int:gateway_id>/test", methods=["POST"])
@workspace_role("admin")
def test_gateway(gateway_id):
    gateway = get_or_404_in_workspace(Gateway, gateway_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    gateways_service.request_test(gateway, current_user)
    if htmx:
        return _gateway_card(gateway)
    flash(f"Testing the connection of {gateway.name}: the answer appears on its card.", "info")
    return redirect(url_for("whatsapp.page"))


@bp.get("/gateways/<int:gateway_id>")
@workspace_role("admin")
def gateway_card(gateway_id):
    """One gateway's card (an HTMX fragment that polls while its connection test runs)."""
    return _gateway_card(get_or_404_in_workspace(Gateway, gateway_id))


def _gateway_card(gateway):
    return render_template("whatsapp/partials/_gateway.html", gateway=gateway,
                           test=gateways_service.latest_test(gateway), confirm_form=ConfirmForm())


@bp.route("/gateways/<int:gateway_id>/remove", methods=["POST"])
@workspace_role("admin")
def remove_gateway(gateway_id):
    gateway = get_or_404_in_workspace(Gateway, gateway_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name, count = gateway.name, len(gateway.links)
    gateways_service.remove_gateway(gateway)
    flash(f"Gateway {name} removed; {count} number(s) unlinked. Messages already synced stay in Close.", "success")
    return redirect(url_for("whatsapp.page"))


@bp.route("/settings", methods=["POST"])
@workspace_role("admin")
def save_settings():
    form = SettingsForm()
    if not form.validate_on_submit():
        abort(400)
    settings.set_mirror_deletions(current_workspace().id, form.mirror_deletions.data)
    flash("WhatsApp settings saved.", "success")
    return redirect(url_for("whatsapp.page"))


# -- linking (every member for their own numbers) ------------------------------------------------------------

@bp.route("/links", methods=["POST"])
@workspace_role("member")
def start_link():
    workspace, me = current_workspace(), current_membership()
    form = _link_form(workspace, me)
    if not form.validate_on_submit():
        return _render(link_form=form, status=400)
    gateway = get_or_404_in_workspace(Gateway, form.gateway_id.data)
    member = me
    if me.is_manager and form.membership_id.data:
        member = get_or_404_in_workspace(Membership, form.membership_id.data)
    try:
        link = linking.start_link(gateway, member, actor=current_user)
    except linking.LinkRefused as exc:
        form.gateway_id.errors.append(str(exc))
        return _render(link_form=form, status=409)
    return redirect(url_for("whatsapp.link_page", link_id=link.id))


@bp.route("/links/<int:link_id>")
@workspace_role("member")
def link_page(link_id):
    link = _link_or_404(link_id)
    return render_template("whatsapp/link.html", link=link, pairing_form=PairingForm(), confirm_form=ConfirmForm())


@bp.route("/links/<int:link_id>/status")
@workspace_role("member")
def link_status(link_id):
    """HTMX polling target: fresh state from the gateway; stops polling on a final state."""
    link = _link_or_404(link_id)
    if not link.is_final:
        linking.refresh(link)
    return render_template("whatsapp/partials/_link_status.html", link=link, confirm_form=ConfirmForm())


@bp.route("/links/<int:link_id>/qr.png")
@workspace_role("member")
def link_qr(link_id):
    link = _link_or_404(link_id)
    if link.state != "qr":
        abort(404)
    try:
        png = linking.qr_png(link)
    except GatewayError:
        abort(404)  # rotated or no longer scanning: the next poll shows the new state
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.route("/links/<int:link_id>/pairing-code", methods=["POST"])
@workspace_role("member")
def pairing_code(link_id):
    link = _link_or_404(link_id)
    form = PairingForm()
    code = error = None
    if form.validate_on_submit():
        try:
            code = linking.pairing_code(link, form.phone.data)
        except InvalidPhone as exc:
            error = str(exc)
        except GatewayError as exc:
            error = f"The gateway could not give a code: {exc.message} Scan the QR code instead."
    else:
        error = "Enter your WhatsApp number in international format."
    return render_template("whatsapp/partials/_pairing.html", link=link, code=code, error=error,
                           pairing_form=form), (200 if code else 400)


@bp.route("/links/<int:link_id>/unlink", methods=["POST"])
@workspace_role("member")
def unlink(link_id):
    link = _link_or_404(link_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    label = link.number.e164 if link.number else "The number"
    warning = linking.unlink(link)
    flash(f"{label} is unlinked. Messages already synced stay in Close." + (f" {warning}" if warning else ""),
          "warning" if warning else "success")
    return redirect(url_for("whatsapp.page"))


@bp.get("/links/<int:link_id>/reconciliation")
@workspace_role("member")
def reconciliation(link_id):
    """The number's reconciliation cell (an HTMX fragment that polls while a run works)."""
    link = _link_or_404(link_id)
    return render_template("whatsapp/partials/_reconciliation.html", link=link, figures=reconcile.accounted(link))


@bp.route("/links/<int:link_id>/reconcile", methods=["POST"])
@workspace_role("member")
def reconcile_now(link_id):
    link = _link_or_404(link_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if link.state != "linked" or link.number is None:
        flash("Only a linked number can be reconciled: link it again first.", "warning")
    elif reconcile.request_reconciliation(link, "manual"):
        flash(f"Reconciling {link.number.e164}: its progress shows in the Reconciliation column.", "info")
    else:
        flash(f"A reconciliation of {link.number.e164} is already under way; another one follows it.", "info")
    return redirect(url_for("whatsapp.page"))


@bp.route("/links/<int:link_id>/restart", methods=["POST"])
@workspace_role("member")
def restart(link_id):
    """A failed or stopped number: restart its session with the stored login (no new QR code)."""
    link = _link_or_404(link_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    linking.restart(link)
    return redirect(url_for("whatsapp.link_page", link_id=link.id))


@bp.route("/links/<int:link_id>/check", methods=["POST"])
@workspace_role("member")
def check_link(link_id):
    """Ask the gateway again (after an outage, a licence activation): the session is left as it is."""
    link = _link_or_404(link_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    linking.refresh(link)
    return redirect(url_for("whatsapp.link_page", link_id=link.id))


@bp.route("/links/<int:link_id>/relink", methods=["POST"])
@workspace_role("member")
def relink(link_id):
    link = _link_or_404(link_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    linking.relink(link)
    return redirect(url_for("whatsapp.link_page", link_id=link.id))


@bp.app_context_processor
def inject_health():
    return {"whatsapp_links_for": health.summary, "reconcile_reason": reconcile.reason_label}
