import sqlalchemy as sa
from flask import flash, render_template, redirect, url_for
from flask_login import current_user

from webapp.access import current_workspace, get_or_404_in_workspace, workspace_role
from webapp.account import bp
from webapp.account import cloud_numbers
from webapp.account.forms import ApiKeyForm, CloudNumberForm, CloudTokenForm
from webapp.extensions import db
from webapp.models import ApiKey, CloudApiNumber, utcnow
from webapp.urls import mark_secret_page
from webapp.team.forms import ConfirmForm


@bp.route("/subscription")
@workspace_role("owner")
def subscription():
    return render_template("account/subscription.html", workspace=current_workspace())


def _render_keys(form=None, new_key=None, status=200):
    workspace = current_workspace()
    keys = db.session.scalars(sa.select(ApiKey).where(ApiKey.workspace_id == workspace.id)
                              .order_by(ApiKey.created_at.desc())).all()
    return render_template("account/api_keys.html", keys=keys, form=form or ApiKeyForm(),
                           confirm_form=ConfirmForm(), new_key=new_key), status


@bp.route("/settings/api-keys")
@workspace_role("admin")
def api_keys():
    return _render_keys()


@bp.route("/settings/api-keys", methods=["POST"])
@workspace_role("admin")
def create_api_key():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _render_keys(form=form, status=400)
    row, plaintext = ApiKey.generate(current_workspace(), form.name.data.strip(), current_user)
    db.session.add(row)
    db.session.commit()
    # Shown once in this response; only the hash is stored.
    mark_secret_page()
    return _render_keys(new_key=plaintext)


@bp.route("/settings/api-keys/<int:key_id>/revoke", methods=["POST"])
@workspace_role("admin")
def revoke_api_key(key_id):
    key = get_or_404_in_workspace(ApiKey, key_id)
    if ConfirmForm().validate_on_submit() and key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return redirect(url_for("account.api_keys"))


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
