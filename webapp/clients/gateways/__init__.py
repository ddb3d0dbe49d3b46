"""WhatsApp gateway clients: one module per kind behind base.GatewayClient, listed once in
registry.KINDS (the kind list the models, forms and CLI read)."""
