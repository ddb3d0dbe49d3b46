"""Close CRM connection (PRODUCT.md §2): the client and everything about a workspace's connection.

The page and its actions (blueprint `close` at /integrations/close) are in routes.py.
"""
