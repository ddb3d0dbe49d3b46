import sqlalchemy as sa
from flask import Blueprint, flash, make_response, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from webapp.access import current_membership, current_workspace, get_or_404_in_workspace, workspace_role
from webapp.account import cloud_numbers, keys
from webapp.account import subscription as subscriptions
from webapp.account.forms import ApiKeyForm, CloudNumberForm, CloudTokenForm, LanguageForm, RegionForm
from webapp.core.extensions import db
from webapp.core.forms import ConfirmForm
from webapp.core.phones import region_name
from webapp.models import ApiKey, CloudApiNumber
from webapp.team import close_users

bp = Blueprint("account", __name__)

REVEAL = "api_key_reveal"  # session key: id of the key whose secret the next page view shows once


@bp.route("/settings/account", methods=["GET", "POST"])
@login_required  # a language is personal: anyone signed in sets their own, with or without a workspace
def profile():
    form = LanguageForm(language=current_user.locale or "")
    if form.validate_on_submit():
        current_user.locale = form.language.data or None
        db.session.commit()
        refresh()  # this very response already speaks the new language
        flash(_("Language saved."), "success")
        return redirect(url_for("account.profile"), 303)
    membership = current_membership()
    close = close_users.overview(membership.workspace_id, [membership]) if membership is not None else None
    return render_template("account/profile.html", form=form, close=close, me=membership,
                           describe_close_user=close_users.describe), 400 if form.is_submitted() else 200


@bp.route("/subscription")
@workspace_role("owner")
def subscription():
    workspace = current_workspace()
    return render_template("account/subscription.html", workspace=workspace, sub=subscriptions.overview(workspace))


def _render_keys(form=None, new_key=None, status=200):
    workspace = current_workspace()
    rows = db.session.scalars(sa.select(ApiKey).where(ApiKey.workspace_id == workspace.id)
                              .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()
    response = make_response(render_template("account/api_keys.html", keys=rows, form=form or ApiKeyForm(),
                                              confirm_form=ConfirmForm(), new_key=new_key), status)
    response.headers["Cache-Control"] = "no-store"  # a secret may be on this page: never cache it
    return response


@bp.route("/settings/api-keys")
@workspace_role("admin")
def api_keys():
    workspace = current_workspace()
    new_key = None
    key_id = session.pop(REVEAL, None)
    if key_id is not None:
        plaintext = keys.reveal_once(workspace.id, key_id)
        if plaintext:
            new_key = {"row": db.session.get(ApiKey, key_id), "secret": plaintext}
    keys.forget_unrevealed(workspace.id)
    return _render_keys(new_key=new_key)


@bp.route("/settings/api-keys", methods=["POST"])
@workspace_role("admin")
def create_api_key():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _render_keys(form=form, status=400)
    row = keys.create_key(current_workspace(), form.name.data, current_user)
    session[REVEAL] = row.id
    return redirect(url_for("account.api_keys"), 303)  # a reload shows the list, never a second key


@bp.route("/settings/api-keys/<int:key_id>/revoke", methods=["POST"])
@workspace_role("admin")
def revoke_api_key(key_id):
    key = get_or_404_in_workspace(ApiKey, key_id)
    if not ConfirmForm().validate_on_submit():
        flash("Your form expired; reload the page and try again.", "danger")
    elif keys.revoke(key):
        flash(f"API key “{key.name}” ({key.prefix}…) revoked: requests that use it are now refused with 401.",
              "success")
    else:
        flash(f"API key “{key.name}” was already revoked.", "info")
    return redirect(url_for("account.api_keys"), 303)


@bp.route("/settings/region", methods=["POST"])
@workspace_role("admin")
def workspace_region():
    form = RegionForm()
    if not form.validate_on_submit():
        flash("Pick a country from the list.", "danger")
        return redirect(url_for("team.index"), 303)
    workspace = current_workspace()
    workspace.default_region = form.default_region.data or None
    db.session.commit()
    flash(f"Numbers without a country code are now read as {region_name(workspace.default_region)} numbers."
          if workspace.default_region else "The workspace country is no longer set.", "success")
    return redirect(url_for("team.index"), 303)


# --- WhatsApp Cloud API numbers (the webhook routes by Meta's phone_number_id) ------------------

def _render_cloud(form=None, status=200):
    return render_template("account/whatsapp_cloud.html", form=form or CloudNumberForm(),
                           rows=cloud_numbers.registered(current_workspace().id),
                           confirm_form=ConfirmForm()), status


@bp.route("/settings/whatsapp-cloud")
@workspace_role("admin")
def whatsapp_cloud():
    return _render_cloud()


@bp.route("/settings/whatsapp-cloud", methods=["POST"])
@workspace_role("admin")
def register_cloud_number():
    form = CloudNumberForm()
    if not form.validate_on_submit():
        return _render_cloud(form, status=400)
    try:
        cloud_numbers.register(current_workspace().id, form.phone_number_id.data, form.number.data, current_user,
                               access_token=form.access_token.data)
    except cloud_numbers.NotProven as exc:
        form.phone_number_id.errors.append(str(exc))
        return _render_cloud(form, status=400)
    except cloud_numbers.AlreadyRegistered as exc:
        form.phone_number_id.errors.append(str(exc))
        return _render_cloud(form, status=409)
    flash(f"Cloud API number {form.number.data} registered: its webhook messages now land in this workspace.",
          "success")
    return redirect(url_for("account.whatsapp_cloud"))


@bp.route("/settings/whatsapp-cloud/<int:cloud_number_id>/token", methods=["POST"])
@workspace_role("admin")
def set_cloud_token(cloud_number_id):
    row = get_or_404_in_workspace(CloudApiNumber, cloud_number_id)
    form = CloudTokenForm()
    if not form.validate_on_submit():
        flash("Paste the access token to save it.", "danger")
        return _render_cloud(status=400)
    cloud_numbers.set_token(row, form.access_token.data)
    flash(f"Access token saved for {row.number.e164}: photos and files are fetched from the Graph API.", "success")
    return redirect(url_for("account.whatsapp_cloud"))


@bp.route("/settings/whatsapp-cloud/<int:cloud_number_id>/remove", methods=["POST"])
@workspace_role("admin")
def remove_cloud_number(cloud_number_id):
    row = get_or_404_in_workspace(CloudApiNumber, cloud_number_id)
    if ConfirmForm().validate_on_submit():
        db.session.delete(row)
        db.session.commit()
        flash("Cloud API number removed: its webhook messages are no longer accepted here.", "info")
    return redirect(url_for("account.whatsapp_cloud"))
