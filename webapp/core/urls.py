"""Absolute links (invite links, anything sent to users) are built from PUBLIC_URL, never from the
request's Host header, which a client or a misconfigured proxy controls."""
from urllib.parse import urlsplit

from flask import current_app, g, url_for


def public_url(endpoint, **values):
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values)


def mark_secret_page():
    """This response shows a secret (a new API key, an invite link): browsers and proxies must not keep it."""
    g.no_store = True


def local_path_or(target, fallback):
    """`target` when it is a path on this site, else `fallback`. Browsers read a backslash as a
    slash and drop tabs and newlines, so "/\\evil.test", or "/", a tab and "/evil.test", would
    leave the site."""
    target = target or ""
    if (target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and not urlsplit(target).netloc):
        return target
    return fallback
