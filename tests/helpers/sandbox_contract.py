"""Contract checks for sandbox responses.

Responses of /api/v1 endpoints are validated with openapi-core against
close-openapi.yml. Deliberate adjustments (documented in close_sandbox/README.md):
- the spec's operationIds are not unique (e.g. 'list' for both /lead/ and /contact/), which
  openapi-core refuses to load; we rename them to "<method>:<path>" in memory;
- query parameters typed as a list of types (e.g. id__in: [array, null]) crash openapi-core's
  parameter deserializer; Close takes them comma-separated, so we treat them as strings;
- servers is replaced by the relative "/api/v1" so requests to the local port match;
- the spec declares /me/, /user/, /organization/{id}/, /role/ and /files/upload/ responses as
  "Empty response body" objects, so those shapes are additionally checked by hand against
  close-api.md §3 and §5.4;
- /data/search/ and the OAuth endpoints are not in the spec: checked by hand (close-api.md §2, §4.4);
- statuses the spec does not list (429, 415, and the injected 5xx faults) are checked by hand.
"""
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_CANDIDATES = [
    Path("/work/shared/reference/close-openapi.yml"),
    REPO.parent / "shared" / "reference" / "close-openapi.yml",
    REPO / "shared" / "reference" / "close-openapi.yml",
]
CORE_ID = re.compile(r"^(lead|cont|acti|user|orga|memb|role|stat)_[0-9A-Za-z]+$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
RATELIMIT = re.compile(r"^limit=\d+, remaining=\d+, reset=\d+(\.\d+)?$")
OAUTH_ERRORS = {"invalid_grant", "invalid_client", "unsupported_grant_type", "invalid_request"}


def find_spec() -> Path | None:
    return next((p for p in SPEC_CANDIDATES if p.is_file()), None)


class Contract:
    def __init__(self, spec_path: Path):
        from openapi_core import OpenAPI

        with open(spec_path) as fh:
            spec = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        spec["servers"] = [{"url": "/api/v1"}]
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict):
                    continue
                if "operationId" in op:
                    op["operationId"] = f"{method}:{path}"
                for param in op.get("parameters", []):
                    schema = param.get("schema", {})
                    if isinstance(schema.get("type"), list):  # e.g. id__in: [array, null], sent comma-separated
                        param["schema"] = {"type": "string"}
        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec)
        self.paths = [(self._regex(p), p) for p in spec["paths"]]
        self.checked = 0

    @staticmethod
    def _regex(path):
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")

    def spec_path(self, api_path):
        # prefer literal paths (/lead/merge/) over templated ones (/lead/{id}/)
        matches = [p for rx, p in self.paths if rx.match(api_path)]
        matches.sort(key=lambda p: p.count("{"))
        return matches[0] if matches else None

    def check(self, request, response) -> None:
        """Raise AssertionError if the exchange breaks the contract."""
        from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

        path = re.sub(r"^https?://[^/]+", "", request.url).split("?")[0]
        status = response.status_code
        self.checked += 1
        if path.startswith("/oauth2/token/"):
            return check_token_response(response)
        if path.startswith("/oauth2/revoke/"):
            assert status in (200, 400, 401), status
            if status == 200:
                assert response.content == b""
            return None
        if not path.startswith("/api/v1/"):
            return None
        if status in (500, 502, 503, 504):  # injected faults: gateway-style, no contract
            return None
        assert RATELIMIT.match(response.headers.get("ratelimit", "")), f"ratelimit header on {path}"
        body = response.json()
        if 200 <= status < 300:
            check_ids_and_times(body)
        api_path = path[len("/api/v1"):]
        if status == 429:
            return check_429(response)
        if status in (400, 401, 404, 415):
            check_error_body(status, body)
        if api_path == "/data/search/":
            return check_search(status, body)
        spec_path = self.spec_path(api_path)
        assert spec_path, f"{api_path} is not in the OpenAPI spec"
        operation = self.spec["paths"][spec_path][request.method.lower()]
        if str(status) in operation["responses"]:
            self.openapi.validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))
            if 200 <= status < 300:
                self.openapi.validate_request(RequestsOpenAPIRequest(request))
        elif status != 415:
            raise AssertionError(f"{request.method} {spec_path} answered {status}, not in the spec")
        if status == 200 and "_fields=" not in request.url:  # _fields trims the shape on purpose
            check_by_hand(api_path, request.method, body)
        return None


def check_ids_and_times(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            check_ids_and_times(v, k)
    elif isinstance(value, list):
        for v in value:
            check_ids_and_times(v, key)
    elif isinstance(value, str):
        if CORE_ID.match(value):
            assert len(value.split("_", 1)[1]) == 43, f"{key}={value} is not prefix + 43 chars"
        if key and (key.startswith("date_") or key == "activity_at") and value != "0001-01-01T00:00:00":
            assert TIMESTAMP.match(value), f"{key}={value} is not ISO 8601 with microseconds and +00:00"


def check_error_body(status, body):
    assert isinstance(body, dict)
    if status == 400:
        assert isinstance(body.get("errors"), list) and isinstance(body.get("field-errors"), dict), body
    else:
        assert isinstance(body.get("error"), str), body


def check_429(response):
    body = response.json()
    err = body["error"]
    assert err["message"] == "API call count exceeded for this period"
    assert err["rate_limit_type"] in ("key", "organization")
    assert isinstance(err["rate_limit"], int) and isinstance(err["rate_reset"], (int, float))
    assert response.headers["retry-after"].isdigit() and int(response.headers["retry-after"]) >= 1


def check_search(status, body):
    if status != 200:
        return
    assert set(body) <= {"data", "cursor", "count"}
    assert body["cursor"] is None or isinstance(body["cursor"], str)
    for item in body["data"]:
        assert item["__object_type"] in ("lead", "contact") and "id" in item
    if "count" in body:
        assert set(body["count"]) == {"total", "limited"}


def check_token_response(response):
    body = response.json()
    assert response.headers.get("Cache-Control") == "no-store"
    if response.status_code == 200:
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "all.full_access offline_access"
        assert isinstance(body["expires_in"], int)
        for key in ("access_token", "refresh_token", "organization_id", "user_id"):
            assert isinstance(body[key], str) and body[key]
        assert body["organization_id"].startswith("orga_") and body["user_id"].startswith("user_")
    else:
        assert body["error"] in OAUTH_ERRORS, body
        expected = 401 if body["error"] == "invalid_client" else 400
        assert response.status_code == expected, (response.status_code, body)


def _has(obj, keys, where):
    missing = [k for k in keys if k not in obj]
    assert not missing, f"{where} lacks {missing}"


def check_by_hand(api_path, method, body):
    """Shapes the spec leaves empty, per close-api.md §3 and §5.4."""
    parts = [p for p in api_path.split("/") if p]
    if parts == ["me"]:
        _has(body, ["id", "email", "first_name", "last_name", "organizations", "memberships"], "/me/")
        for org in body["organizations"]:
            _has(org, ["id", "name", "lead_statuses"], "/me/ organization")
            for status in org["lead_statuses"]:
                _has(status, ["id", "label"], "lead status")
        for m in body["memberships"]:
            _has(m, ["id", "organization_id", "user_id", "role_id", "permissions_granted"], "/me/ membership")
    elif parts[0] == "user":
        users = body["data"] if len(parts) == 1 else [body]
        if len(parts) == 1:
            assert isinstance(body["has_more"], bool)
        for u in users:
            _has(u, ["id", "email", "first_name", "last_name", "image", "date_created", "date_updated",
                     "organizations"], "user")
            assert all(isinstance(o, str) for o in u["organizations"])
    elif parts[0] == "organization":
        _has(body, ["id", "name", "lead_statuses", "memberships", "inactive_memberships"], "organization")
        for m in body["memberships"] + body["inactive_memberships"]:
            _has(m, ["id", "user_id", "role_id", "permissions_granted"], "org membership")
            assert "user" in m or "user_email" in m
    elif parts[0] == "role":
        roles = body["data"] if len(parts) == 1 else [body]
        for r in roles:
            _has(r, ["id", "name", "editable", "permissions", "visibility_user_lcf_ids",
                     "visibility_user_lcf_behavior"], "role")
    elif parts == ["files", "upload"]:
        _has(body["upload"], ["url", "fields"], "upload")
        _has(body["upload"]["fields"], ["key", "policy", "signature", "Content-Type"], "upload fields")
        assert "/go/file/" in body["download"]["url"]
    elif parts[:2] == ["activity", "whatsapp_message"] and method != "DELETE":
        for item in body["data"] if "data" in body else [body]:
            assert item.get("_type", "WhatsAppMessage") == "WhatsAppMessage"
