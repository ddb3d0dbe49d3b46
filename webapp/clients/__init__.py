"""One package or module per outside system: close/ (Close CRM), graph (WhatsApp Cloud API
media), gateways/ (WAHA, Evolution API). Leaves: they import only core and models."""
