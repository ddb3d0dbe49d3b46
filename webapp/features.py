"""The product features, wired into the app by create_app(): blueprints, CLI commands, template
filters and the reactions to events (the composition root: the only place that knows them all)."""
from webapp.account.routes import bp as account_bp
from webapp.api import docs, messages, webhook  # noqa: F401 (the views register on the api blueprint)
from webapp.api.blueprint import bp as api_bp
from webapp.api.demo_traffic import demo_group
from webapp.auth.routes import bp as auth_bp
from webapp.clients.gateways import registry as gateway_registry
from webapp.close_connection.routes import bp as close_bp
from webapp.close_connection.service import on_member_removed
from webapp.close_connection.wording import event_label, plain_detail
from webapp.core import vocabulary
from webapp.core.extensions import csrf
from webapp.core.signals import member_removed, subscription_changed
from webapp.dashboard.routes import bp as main_bp
from webapp.history_import import service as history
from webapp.history_import.routes import bp as history_bp
from webapp.messages.actions import on_subscription_changed
from webapp.messages.states import state_badge
from webapp.operations.routes import bp as operations_bp
from webapp.privacy.routes import bp as privacy_bp
from webapp.sync_status.routes import bp as sync_bp
from webapp.team.routes import bp as team_bp
from webapp.whatsapp import history_source
from webapp.whatsapp import linking as whatsapp_linking
from webapp.whatsapp.routes import bp as whatsapp_bp
from webapp.whatsapp.webhook import bp as whatsapp_hooks_bp


def register(app):
    app.add_template_filter(gateway_registry.label_of, "gateway_label")
    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(operations_bp)        # /healthz, /readyz, /metrics (no sign-in)
    app.register_blueprint(team_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(close_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(history_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(whatsapp_bp)          # the WhatsApp page (gateways, linking, health)
    csrf.exempt(whatsapp_hooks_bp)               # gateway webhooks are authenticated by HMAC
    app.register_blueprint(whatsapp_hooks_bp)
    history.set_source_factory(history_source.source_for)  # history import reads linked numbers
    app.cli.add_command(demo_group)  # `flask demo traffic`
    app.add_template_filter(state_badge)
    app.add_template_global(vocabulary.badge)  # every state badge's words and colour
    app.add_template_filter(event_label)
    app.add_template_filter(plain_detail)
    member_removed.connect(on_member_removed)
    member_removed.connect(whatsapp_linking.on_member_removed)
    subscription_changed.connect(on_subscription_changed)
