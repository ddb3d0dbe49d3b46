"""Bad input stops at the door with a clear 400, before any view or database sees it.

Checked on every request: query parameters, URL path parameters and form fields must not contain
NUL bytes or unpaired surrogates (PostgreSQL refuses NUL in text, UTF-8 can't carry surrogates:
either would surface as a 500 deep inside). JSON bodies of the API must parse within a nesting depth
(deep nesting would raise RecursionError). The ingestion API checks the strings inside each message
in its pydantic schema (webapp/messages/schema.py, via char_problem), so a batch keeps its per-item answers. The
webhooks are left alone here: their signature must be checked before anything is parsed; they
`scrub` their parsed envelope afterwards.

Ids fit the database's id columns (INTEGER: 32-bit on PostgreSQL): the `int` URL converter is replaced
by one that does not match above 2^31-1 (a 404, not an out-of-range error from the driver), and the id
fields of queries and forms (INT_FIELDS) holding a number outside that range are refused with a 400.
"""
import json
import re

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from webapp.core.errors import error_answer, json_error

MAX_DEPTH = 32
SEARCH_MAX = 100   # characters of the sync log search
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
WEBHOOK_PREFIX = "/api/webhooks/"   # every webhook verifies its signature/secret before parsing
INGEST_PATHS = ("/api/v1/messages", "/api/v1/messages/batch")
DB_INT_MAX = 2**31 - 1   # every id column is INTEGER (PostgreSQL: 32-bit, signed)
# Query and form fields read as row ids or cursors (`type=int`): a number no id column holds is refused.
# (Form fields named `number` are phone numbers, hence one list per source.)
INT_FIELDS = {"query": {"before", "number", "chat", "chat_id", "number_id", "page"},
              "form": {"number_id", "gateway_id", "workspace_id"}}
_INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")


class DbIntConverter(IntegerConverter):
    """`<int:...>` that matches only what the database can hold (larger ids answer 404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, signed=signed,
                         max=DB_INT_MAX if max is None else max)


def db_int(value):
    """`type=` for request.args.get/request.form.get: an int an id column holds, else ValueError (→ the default)."""
    number = int(value)
    if not -DB_INT_MAX - 1 <= number <= DB_INT_MAX:
        raise ValueError("out of range")
    return number


def scrub(value):
    """A parsed JSON value with NUL characters and unpaired surrogates removed from every string and key
    (a signed webhook is stored without them instead of reaching PostgreSQL). No recursion."""
    def clean(text):
        return _BAD_CHARS.sub("", text) if isinstance(text, str) else text
    root = [value]
    stack = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = clean(item)
        elif isinstance(item, dict):
            if any(isinstance(k, str) and _BAD_CHARS.search(k) for k in item):
                item = container[key] = {clean(k): v for k, v in item.items()}
            stack.extend((item, k) for k in item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
    return root[0]


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
            reason = char_problem(key) or char_problem(value) or _int_problem(source, key, value)
            if reason:
                return f"{source}.{_printable(key)}", reason
    return None


def _int_problem(source, key, value):
    if key not in INT_FIELDS.get(source, ()) or not isinstance(value, str) or not _INTEGER.match(value):
        return None
    try:
        db_int(value)
    except ValueError:
        return "A number too large to be an id."
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
    hint = " Remove the character and try again." if "character" in reason or "surrogate" in reason else ""
    return error_answer(400, f"The request was refused: {reason}{hint}")


def init_app(app):
    app.url_map.converters["int"] = DbIntConverter   # before any route is added

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
