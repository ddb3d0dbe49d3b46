"""Close CRM connection (PRODUCT.md §2): blueprint `close` at /integrations/close."""
from flask import Blueprint

bp = Blueprint("close", __name__, url_prefix="/integrations/close")


def init_app(app):
    """Register the page and subscribe to the events that end or resume a connection."""
    from webapp.integrations.close import routes  # noqa: F401 (registers the views on bp)
    from webapp.integrations.close.service import on_member_removed, on_subscription_changed
    from webapp.signals import member_removed, subscription_changed
    app.register_blueprint(bp)
    member_removed.connect(on_member_removed)
    subscription_changed.connect(on_subscription_changed)
