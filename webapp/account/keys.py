"""Workspace API keys: create (the secret shown exactly once), reveal once, revoke.

The new secret waits, Fernet-encrypted, on its row until the page that shows it is rendered; the
reveal clears it in the same UPDATE that reads it, so a reload (or a second tab) cannot show it
again, and reloading never creates a second key (the create POST redirects).
"""
from datetime import timedelta

import sqlalchemy as sa

from webapp.core import crypto
from webapp.core.extensions import db
from webapp.models import ApiKey, utcnow

REVEAL_WINDOW = timedelta(minutes=10)  # a secret not shown by then is dropped (the key stays usable)


def create_key(workspace, name, user):
    row, plaintext = ApiKey.generate(workspace, name.strip(), user)
    row.secret_once_enc = crypto.encrypt(plaintext)
    db.session.add(row)
    db.session.commit()
    return row


def reveal_once(workspace_id, key_id):
    """The plaintext of a just-created key, the first time only; None afterwards."""
    row = db.session.get(ApiKey, key_id)
    if row is None or row.workspace_id != workspace_id or not row.secret_once_enc:
        return None
    ciphertext = row.secret_once_enc
    cleared = db.session.execute(sa.update(ApiKey).where(ApiKey.id == key_id, ApiKey.secret_once_enc.is_not(None))
                                 .values(secret_once_enc=None)).rowcount
    db.session.commit()
    if cleared != 1 or row.created_at < utcnow() - REVEAL_WINDOW:
        return None
    return crypto.decrypt(ciphertext)


def forget_unrevealed(workspace_id):
    """Secrets of keys whose page was never shown are not kept longer than the reveal window."""
    db.session.execute(sa.update(ApiKey).where(ApiKey.workspace_id == workspace_id,
                                               ApiKey.secret_once_enc.is_not(None),
                                               ApiKey.created_at < utcnow() - REVEAL_WINDOW)
                       .values(secret_once_enc=None))
    db.session.commit()


def revoke(key):
    """True when this call revoked it (False: it was already revoked)."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    key.secret_once_enc = None
    db.session.commit()
    return True
