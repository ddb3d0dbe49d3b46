"""Gateway kinds: one module per kind behind base.GatewayClient."""
