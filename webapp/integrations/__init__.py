"""Integrations with outside systems (Close CRM)."""
