"""Bad input stops at the door with a clear 400, before any view or database sees it.

Checked on every request: query parameters, URL path parameters and form fields must not contain
NUL bytes or unpaired surrogates (PostgreSQL refuses NUL in text, UTF-8 can't carry surrogates:
either would surface as a 500 deep inside). JSON bodies of the API must parse within a nesting depth
(deep nesting would raise RecursionError). The ingestion API checks the strings inside each message
in its pydantic schema (webapp/messages/schema.py, via char_problem), so a batch keeps its per-item answers. The
webhooks are left alone here: their signature must be checked before anything is parsed.
"""
import json
import re

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.core.errors import error_answer, json_error

MAX_DEPTH = 32
SEARCH_MAX = 100   # characters of the sync log search
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
WEBHOOK_PREFIX = "/api/webhooks/"   # every webhook verifies its signature/secret before parsing
INGEST_PATHS = ("/api/v1/messages", "/api/v1/messages/batch")


def char_problem(text):
    """Why this string can't be stored, or None."""
    if not isinstance(text, str):
        return None
    match = _BAD_CHARS.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "Contains a NUL character, which can't be stored."
    return "Contains an unpaired surrogate (invalid Unicode), which can't be stored."


def first_problem(value, path="body", max_depth=MAX_DEPTH):
    """(path, reason) of the first unusable spot of a parsed JSON value, or None. No recursion."""
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            return where, f"Nested more than {max_depth} levels deep."
        if isinstance(item, str):
            reason = char_problem(item)
            if reason:
                return where, reason
        elif isinstance(item, dict):
            for key, child in item.items():
                reason = char_problem(key)
                if reason:
                    return f"{where}.{key.encode('utf-8', 'backslashreplace').decode()}", reason
                stack.append((child, f"{where}.{key}" if where != "body" else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def _request_problem():
    # The webhook's body is read (size-limited) only after its signature: no form parsing here.
    reads_form = request.method != "GET" and not request.path.startswith(WEBHOOK_PREFIX)
    for source, values in (("query", request.args), ("form", request.form if reads_form else {}),
                           ("path", request.view_args or {})):
        items = values.items(multi=True) if hasattr(values, "getlist") else values.items()
        for key, value in items:
            reason = char_problem(key) or char_problem(value)
            if reason:
                return f"{source}.{_printable(key)}", reason
    return None


def _json_depth_problem():
    if request.path.startswith(WEBHOOK_PREFIX) or not request.path.startswith("/api/") or request.method != "POST":
        return None
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return None  # the view answers 413
    try:
        value = json.loads(raw or b"null")
    except RecursionError:
        return "body", f"Nested more than {MAX_DEPTH} levels deep."
    except (ValueError, UnicodeDecodeError):
        return None  # the view answers invalid_json
    problem = first_problem(value)
    if problem and (request.path not in INGEST_PATHS or "Nested" in problem[1]):
        return problem
    return None


def _printable(text):
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")[:60].replace("\x00", "\\x00")


def _refuse(where, reason):
    if request.path.startswith("/api/"):
        return json_error(400, "invalid_input", f"{where}: {reason}", errors={where: reason})
    return error_answer(400, f"The request was refused: {reason} Remove the character and try again.")


def init_app(app):
    @app.before_request
    def refuse_unusable_input():
        problem = _request_problem() or _json_depth_problem()
        if problem:
            current_app.logger.info("refused input at %s: %s", request.path, problem[1])
            return _refuse(*problem)
        g.search_too_long = len(request.args.get("q", "")) > SEARCH_MAX
        return None

    @app.context_processor
    def search_limits():
        return {"search_max": SEARCH_MAX, "search_too_long": g.get("search_too_long", False)}
