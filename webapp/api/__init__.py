"""Ingestion API (PRODUCT.md §3): `blueprint` (the `api` blueprint), `auth` (API-key decorator),
`messages` (the API), `webhook` (WhatsApp Cloud API), `openapi` (the document, from the schema)."""
