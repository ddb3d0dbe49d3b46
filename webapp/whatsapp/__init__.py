"""WhatsApp gateways (issue 15): members link their own WhatsApp by QR code through a gateway
(WAHA), webhooks feed the sync pipeline, number health and gap recovery keep nothing lost.

Blueprint `whatsapp` (/whatsapp/) serves the pages; `whatsapp_hooks` (/api/webhooks/…) the
gateway webhooks (CSRF-exempt: they are authenticated by HMAC).
"""
from flask import Blueprint

bp = Blueprint("whatsapp", __name__, url_prefix="/whatsapp")
hooks = Blueprint("whatsapp_hooks", __name__, url_prefix="/api/webhooks")


def init_app(app):
    from webapp.extensions import csrf
    from webapp.whatsapp import routes, webhook  # noqa: F401 (views register on the blueprints)
    csrf.exempt(hooks)
    app.register_blueprint(bp)
    app.register_blueprint(hooks)
