"""WAHA (WhatsApp HTTP API) façade under /waha, following waha.md."""
from .facade import WahaFacade  # noqa: F401
