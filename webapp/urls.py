"""Absolute links (invite links, anything sent to users) are built from PUBLIC_URL, never from the
request's Host header, which a client or a misconfigured proxy controls."""
from flask import current_app, g, url_for


def public_url(endpoint, **values):
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values)


def mark_secret_page():
    """This response shows a secret (a new API key, an invite link): browsers and proxies must not keep it."""
    g.no_store = True
