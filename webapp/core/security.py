"""Security headers and HTMX-aware sign-in redirects."""
from urllib.parse import urlsplit

from flask import g, redirect, request, url_for
from flask_login import current_user

from webapp.core.errors import json_error
from webapp.core.extensions import htmx, login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self' {close}; "
    "base-uri 'self'; object-src 'none'"
)


def init_app(app):
    authorize = urlsplit(app.config["CLOSE_AUTHORIZE_URL"])
    csp = CSP.format(close=f"{authorize.scheme}://{authorize.netloc}")

    @app.after_request
    def set_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if g.get("no_store") or _private(response):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    def _private(response):
        """Every page and fragment a signed-in person gets (message texts, names, phones) stays out of
        browser and proxy caches; static files may be cached."""
        return request.endpoint != "static" and not request.path.startswith("/static/") \
            and current_user.is_authenticated

    @login_manager.unauthorized_handler
    def unauthorized():
        login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if htmx:
            response = app.response_class("Sign in required", status=401)
            response.headers["HX-Redirect"] = login_url
            return response
        if request.path.startswith("/api/"):
            return json_error(401, "unauthorized", "Sign in, or send a workspace API key.")
        return redirect(login_url)
