import sqlalchemy as sa
from flask import Blueprint, render_template, redirect, url_for
from flask_login import current_user

from webapp.access import current_workspace, get_or_404_in_workspace, workspace_role
from webapp.account.forms import ApiKeyForm
from webapp.extensions import db
from webapp.models import ApiKey, utcnow
from webapp.team.forms import ConfirmForm

bp = Blueprint("account", __name__)


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
    return _render_keys(new_key=plaintext)


@bp.route("/settings/api-keys/<int:key_id>/revoke", methods=["POST"])
@workspace_role("admin")
def revoke_api_key(key_id):
    key = get_or_404_in_workspace(ApiKey, key_id)
    if ConfirmForm().validate_on_submit() and key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return redirect(url_for("account.api_keys"))
