"""Blueprints of the product features, registered by create_app()."""


def register_features(app):
    pass
