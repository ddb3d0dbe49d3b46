"""WhatsApp (PRODUCT.md): members link their own WhatsApp by QR code through a gateway (WAHA,
Evolution API), webhooks feed the sync engine through ingest_bridge, number health and per-chat
reconciliation keep nothing lost. Blueprints: routes.bp (/whatsapp/), webhook.bp (/api/webhooks/…)."""
