"""Closeline through Flask's test client, as a browser would use it: signed in, with CSRF tokens."""
import html
import re

PASSWORD = "closeline-demo"  # every demo account's


class Browser:
    """A Flask test client that signs in and sends CSRF tokens like a real browser would."""

    def __init__(self, client):
        self.client = client

    def csrf(self):
        page = self.client.get("/auth/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
            re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def login(self, email, password=PASSWORD):
        token = self.csrf()
        response = self.client.post("/auth/login", data={"email": email, "password": password,
                                                         "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return self

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, htmx=False, csrf=True, **kwargs):
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}) or {})
        if csrf:
            token = self.csrf()
            if htmx:
                headers["X-CSRFToken"] = token
            else:
                data.setdefault("csrf_token", token)
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data=data, headers=headers, **kwargs)


def text_of(response):
    """A response's HTML as one line of text, entities decoded (for `in` checks on wording)."""
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))
