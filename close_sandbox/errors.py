"""Close's error body shapes (close-api.md §6.2)."""
from flask import jsonify

UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You either "
    "supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to "
    "supply the credentials required."
)


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self):
        resp = jsonify(self.body)
        resp.status_code = self.status
        for k, v in self.headers.items():
            resp.headers[k] = v
        return resp


def unauthorized() -> ApiError:
    return ApiError(401, {"error": UNAUTHORIZED})


def not_found(model: str) -> ApiError:
    return ApiError(404, {"error": f"Empty query: {model} matching query does not exist."})


def field_errors(errors: dict, general: list | None = None) -> ApiError:
    return ApiError(400, {"errors": list(general or []), "field-errors": errors})


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"errors": [message], "field-errors": {}})


class OAuthError(Exception):
    """RFC 6749 §5.2 error (Close does not document these; close-api.md §2.6)."""

    def __init__(self, error: str, description: str | None = None, status: int = 400):
        super().__init__(error)
        self.error, self.description, self.status = error, description, status

    def response(self):
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        resp = jsonify(body)
        resp.status_code = self.status
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Pragma"] = "no-cache"
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="close"'
        return resp
