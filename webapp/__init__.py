"""Closeline: connect a workspace to Close CRM and sync WhatsApp messages into it."""
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import CONFIGS, INSTANCE_DIR
from webapp.core import errors, i18n, input_guard, logs, security
from webapp.core.deployment import check_production, token_key_problem
from webapp.core.extensions import babel, bootstrap, csrf, db, htmx, limiter, login_manager, migrate


def create_app(config_name=None, overrides=None):
    config_name = config_name or os.environ.get("FLASK_CONFIG", "development")
    app = Flask(__name__, instance_path=INSTANCE_DIR)
    app.config.from_object(CONFIGS[config_name])
    app.config["CONFIG_NAME"] = config_name
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True
    if overrides:
        app.config.update(overrides)
    _check_secrets(app, config_name)
    if config_name == "production":
        check_production(app.config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrations = os.path.join(os.path.dirname(app.root_path), "migrations")
    migrate.init_app(app, db, render_as_batch=True, compare_type=True, directory=migrations)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)
    # Catalogs live in webapp/translations; `make install` compiles their .mo files from the .po.
    babel.init_app(app, locale_selector=i18n.select_locale, default_locale=i18n.DEFAULT_LANGUAGE,
                   default_timezone="UTC")
    i18n.init_app(app)

    security.init_app(app)
    errors.init_app(app)
    input_guard.init_app(app)
    logs.init_request_ids(app)
    _trust_proxies(app)

    # Imported here, not at module top: importing a leaf (a client, a model) must not load every page.
    from webapp import cli, features
    features.register(app)
    cli.init_app(app)
    _configure_logging(app)
    return app


def _check_secrets(app, config_name):
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`), "
            "or run `make run`, which generates one into instance/ for local use."
        )
    if not app.config.get("TOKEN_ENCRYPTION_KEY"):
        raise RuntimeError(
            "TOKEN_ENCRYPTION_KEY is not set. Generate one with `python -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())'` and set it in the environment, "
            "or run `make run`, which generates one into instance/ for local use."
        )
    problem = token_key_problem(app.config["TOKEN_ENCRYPTION_KEY"])
    if problem:
        raise RuntimeError(problem)


def _trust_proxies(app):
    """Behind N reverse proxies (TRUSTED_PROXIES=N): the client address and scheme come from their
    X-Forwarded-For / X-Forwarded-Proto headers. 0 (the default) trusts no header."""
    count = int(app.config.get("TRUSTED_PROXIES") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def _configure_logging(app):
    """Web (gunicorn: scripts/gunicorn_conf.py) and worker processes log through one root handler,
    text or LOG_FORMAT=json; tests keep pytest's own capture."""
    if not app.debug and not app.testing:
        logs.configure(app.config.get("LOG_FORMAT", "text"))
