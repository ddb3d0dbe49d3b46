"""Reading rows back in a test."""
import sqlalchemy as sa


def count(model, *where):
    """How many rows of `model` match `where` (all of them without)."""
    from webapp.core.extensions import db
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
