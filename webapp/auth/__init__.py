"""Sign-in, sign-out, joining by invitation; the blueprint and its views are in routes.py."""
