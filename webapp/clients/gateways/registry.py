"""The gateway kinds Closeline speaks: kind name → client class. A new kind is one module beside
waha.py plus one line here (imported at module level, so the layer check sees it)."""
from webapp.clients.gateways import evolution, waha
from webapp.clients.gateways.base import GatewayClient

KINDS: dict[str, type[GatewayClient]] = {"waha": waha.Client, "evolution": evolution.Client}


def client_for_kind(kind, base_url, api_key) -> GatewayClient:
    if kind not in KINDS:
        raise ValueError(f"unknown gateway kind {kind!r}")
    return KINDS[kind](base_url, api_key)
