"""WhatsApp gateways (issue 15): members link their own WhatsApp by QR code through a gateway
(WAHA), webhooks feed the sync pipeline through ingest.accept, number health and gap recovery
keep nothing lost.

Layer: a service+views feature above `sync` (tests/foundation/test_layers.py). Its services may
import sync, close and the foundation; nothing below imports it. Blueprints live in their routes
modules (`routes.bp` serves /whatsapp/, `webhook.bp` /api/webhooks/…) and are registered in
webapp/features.py; jobs (jobs/whatsapp.py) are enqueued by dotted name.
"""
