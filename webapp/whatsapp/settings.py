"""The workspace's WhatsApp settings (owner/admin change them; checked by the views)."""
from webapp.core.extensions import db
from webapp.models import WhatsAppSettings


def mirror_deletions(workspace_id):
    """Delete the Close activity when a message is deleted on WhatsApp? (default off: keep and note)."""
    settings = db.session.get(WhatsAppSettings, workspace_id)
    return bool(settings and settings.mirror_deletions)


def set_mirror_deletions(workspace_id, on):
    settings = db.session.get(WhatsAppSettings, workspace_id) or WhatsAppSettings(workspace_id=workspace_id)
    settings.mirror_deletions = bool(on)
    db.session.add(settings)
    db.session.commit()
