"""The gateway kinds Closeline speaks, listed once: a new kind is one module beside waha.py plus
one entry in CLIENTS. Forms, services and the CLI take the kind list and labels from here."""
from webapp.clients.gateways import evolution, waha
from webapp.clients.gateways.base import GatewayClient

CLIENTS: tuple[type[GatewayClient], ...] = (waha.Client, evolution.Client)
KINDS: dict[str, type[GatewayClient]] = {client.kind: client for client in CLIENTS}
DEFAULT_KIND = waha.Client.kind


def choices():
    """[(kind, label)] for a select field."""
    return [(client.kind, client.label) for client in CLIENTS]


def label_of(kind):
    client = KINDS.get(kind)
    return client.label if client else kind


def client_for_kind(kind, base_url, api_key) -> GatewayClient:
    if kind not in KINDS:
        raise ValueError(f"unknown gateway kind {kind!r}")
    return KINDS[kind](base_url, api_key)
