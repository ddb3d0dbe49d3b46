"""The Evolution API façade's routes, all on the blueprint of api.py."""
from . import instances, messages  # noqa: F401 (routes)
from .api import bp  # noqa: F401
