"""The WAHA façade's routes, one module per area, all on the blueprint of api.py."""
from . import chats, files, lids, pairing, sending, sessions  # noqa: F401 (routes)
from .api import bp  # noqa: F401
