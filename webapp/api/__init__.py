"""Ingestion API (PRODUCT.md §3): blueprint `api` at /api. Authenticated by workspace API keys
(Bearer), never by the session, so it is exempt from CSRF."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")


def init_app(app):
    from webapp.api import docs, messages, webhook  # noqa: F401 (register the views on bp)
    from webapp.extensions import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)
