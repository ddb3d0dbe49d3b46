"""Sync engine (PRODUCT.md §3): ingestion → outbox → routing → Close WhatsApp activities.

Blueprint `sync` serves the sync status page at /sync/. Services: ingest, routing, delivery,
service (holds, retries, re-route, review queue), close_access (the one seam to the Close
connection), demo_traffic (`flask demo traffic`).
"""
from flask import Blueprint

bp = Blueprint("sync", __name__, url_prefix="/sync")


def init_app(app):
    from webapp import api
    from webapp.sync import demo_traffic, views  # noqa: F401 (views register on bp)
    app.register_blueprint(bp)
    api.init_app(app)
    demo_traffic.init_app(app)
