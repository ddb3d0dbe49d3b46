"""Security headers, HTMX-aware auth failures and error pages."""
from flask import g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from webapp.core.extensions import htmx, login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self' {close}; "
    "base-uri 'self'; object-src 'none'"
)


def init_app(app):
    from urllib.parse import urlsplit
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
        if g.get("no_store"):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import redirect, url_for
        login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if htmx:
            response = app.response_class("Sign in required", status=401)
            response.headers["HX-Redirect"] = login_url
            return response
        if request.path.startswith("/api/"):
            return jsonify(error="authentication required"), 401
        return redirect(login_url)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _error_page(400, "Your form expired or was sent from another site. Reload the page and try again.")

    for code, text in {403: "You don't have permission to do that.",
                       404: "Not found.",
                       405: "Method not allowed.",
                       413: "The request is too large.",
                       429: "Too many attempts. Wait a minute and try again."}.items():
        app.register_error_handler(code, lambda e, code=code, text=text: _error_page(code, text))


def _error_page(code, text):
    if request.path.startswith("/api/"):
        return jsonify(error=text), code
    if htmx:
        return render_template("partials/_error.html", message=text), code
    return render_template("errors/error.html", code=code, message=text), code
