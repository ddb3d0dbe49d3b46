"""JSON error answers of the API (the shapes are in the OpenAPI document)."""
from flask import jsonify


def error(status, code, message, errors=None, headers=None):
    body = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
