"""Evolution API v2 façade under /evolution, following evolution-api.md (2.3.7 behaviour)."""
from .facade import EvolutionFacade  # noqa: F401
