"""Close CRM connection (PRODUCT.md §2): the page and its actions (blueprint `close` at
/integrations/close), connect/refuse/disconnect rules (service), periodic validation, test sync."""
