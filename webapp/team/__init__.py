"""The team pages; the blueprint and its views are in routes.py."""
