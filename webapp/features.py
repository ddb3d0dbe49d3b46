"""The product features, wired into the app by create_app(): blueprints, CLI commands, template
filters and the reactions to events (the composition root: the only place that knows them all)."""
from webapp.api import docs, messages, webhook  # noqa: F401 (the views register on the api blueprint)
from webapp.api.blueprint import bp as api_bp
from webapp.extensions import csrf
from webapp.integrations.close.routes import bp as close_bp
from webapp.integrations.close.service import on_member_removed
from webapp.integrations.close.wording import event_label, plain_detail
from webapp.signals import member_removed, subscription_changed
from webapp.sync.actions import on_subscription_changed
from webapp.sync.demo_traffic import demo_group
from webapp.sync.states import state_badge
from webapp.sync.views import bp as sync_bp


def register_features(app):
    app.register_blueprint(close_bp)
    app.register_blueprint(sync_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(demo_group)  # `flask demo traffic`
    app.add_template_filter(state_badge)
    app.add_template_filter(event_label)
    app.add_template_filter(plain_detail)
    member_removed.connect(on_member_removed)
    subscription_changed.connect(on_subscription_changed)
