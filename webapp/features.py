"""Blueprints of the product features, registered by create_app()."""


def register_features(app):
    from webapp.integrations import close
    close.init_app(app)
    from webapp import sync
    sync.init_app(app)  # sync status page, ingestion API + webhook, `flask demo traffic`
    from webapp import whatsapp
    whatsapp.init_app(app)  # WhatsApp page, gateway webhooks
