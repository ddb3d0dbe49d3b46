"""WhatsApp Cloud API (Graph) façade under /graph."""
from .facade import GraphFacade  # noqa: F401
