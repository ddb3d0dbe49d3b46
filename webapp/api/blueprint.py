"""Blueprint `api` at /api: the ingestion API and the webhooks. Authenticated by workspace API keys
(Bearer) or webhook signatures, never by the session, so it is exempt from CSRF."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
