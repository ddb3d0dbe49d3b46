"""POST /data/search/ — the subset of Close's advanced filtering used to find things by phone (§4.4)."""
import base64
import hashlib
import json
import re

from flask import jsonify

from . import phones, serialize
from .api import bp, caller, json_body, visible_lead, world
from .core import sandbox
from .errors import ApiError, field_errors
from .ids import parse_datetime

DEFAULT_LIMIT = 10
MAX_LIMIT = 200
MAX_RESULTS = 10_000
OBJECT_TYPES = ("lead", "contact")
PHONE_FIELDS = {("contact_phone", "phone")}


class QueryError(Exception):
    pass


# --- object graph ----------------------------------------------------------

def _related(obj_type, obj, related_type):
    w = world()
    if obj_type == "lead":
        contacts = [c for c in w.lead_contacts(obj) if _indexed(c)]
        if related_type == "contact":
            return [("contact", c) for c in contacts]
        if related_type in ("contact_phone", "contact_email", "contact_url"):
            return [item for c in contacts for item in _related("contact", c, related_type)]
        if related_type == "address":
            return [("address", a) for a in obj.addresses]
    if obj_type == "contact":
        if related_type == "contact_phone":
            return [("contact_phone", p) for p in obj.phones]
        if related_type == "contact_email":
            return [("contact_email", e) for e in obj.emails]
        if related_type == "contact_url":
            return [("contact_url", u) for u in obj.urls]
        if related_type == "lead":
            lead = visible_lead(obj.lead_id)
            return [("lead", lead)] if lead else []
    raise QueryError(f"Unsupported relation {obj_type} -> {related_type}.")


def _field_value(obj_type, obj, field_name):
    if isinstance(obj, dict):
        return obj.get(field_name)
    if field_name.startswith("custom."):
        return obj.custom.get(field_name)
    if obj_type == "lead" and field_name == "status_label":
        org = world().organizations[obj.organization_id]
        return next((s["label"] for s in org.lead_statuses if s["id"] == obj.status_id), None)
    if field_name == "display_name":
        return obj.name
    if not hasattr(obj, field_name):
        raise QueryError(f"Unknown field {obj_type}.{field_name}.")
    return getattr(obj, field_name)


def _words(text):
    return re.findall(r"\w+", str(text).lower())


def _text_match(value, condition, is_phone):
    query = condition.get("value")
    if not isinstance(query, str):
        raise QueryError("text condition needs a string value.")
    if value is None:
        return False
    if is_phone:  # both sides to E.164: "(415) 555-0102" matches "+14155550102"
        return phones.same_number(query, str(value), caller().org.country)
    mode = condition.get("mode", "full_words")
    text = str(value)
    if mode == "exact_value":
        return text.lower() == query.lower()
    if mode == "phrase":
        want, have = _words(query), _words(text)
        return any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1)) if want else False
    if mode == "full_words":
        have = set(_words(text))
        return all(word in have for word in _words(query))
    if mode == "beginning_of_words":
        have = _words(text)
        return all(any(h.startswith(word) for h in have) for word in _words(query))
    raise QueryError(f"Unknown text mode {mode!r}.")


def _condition(value, condition, is_phone):
    kind = condition.get("type")
    if kind == "text":
        return _text_match(value, condition, is_phone)
    if kind == "term":
        values = condition.get("values") or []
        if is_phone:
            return any(phones.same_number(v, str(value), caller().org.country) for v in values) if value else False
        return value in values
    if kind == "exists":
        return value not in (None, "", [], {})
    if kind == "boolean":
        return bool(value) == bool(condition.get("value"))
    if kind == "reference":
        return value in (condition.get("object_ids") or [])
    if kind == "current_user":
        return value == caller().user.id
    if kind == "number_range":
        if value is None:
            return False
        if isinstance(value, float) or isinstance(value, int):
            number = value
        else:
            number = parse_datetime(value)
        bounds = {k: condition.get(k) for k in ("gt", "gte", "lt", "lte") if condition.get(k) is not None}
        checks = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
                  "lte": lambda a, b: a <= b}
        return number is not None and all(checks[k](number, b) for k, b in bounds.items())
    raise QueryError(f"Unsupported condition type {kind!r}.")


def matches(node, obj_type, obj) -> bool:
    if not isinstance(node, dict):
        raise QueryError("Query nodes must be objects.")
    kind = node.get("type")
    if kind in ("and", "or"):
        queries = node.get("queries")
        if not isinstance(queries, list):
            raise QueryError(f"'{kind}' needs a 'queries' list.")
        combine = all if kind == "and" else any
        result = combine(matches(q, obj_type, obj) for q in queries)
    elif kind == "object_type":
        result = node.get("object_type") == obj_type
    elif kind == "id":
        result = not isinstance(obj, dict) and obj.id == node.get("value")
    elif kind == "text":
        value = str(node.get("value", "")).lower()
        haystack = " ".join(str(v) for v in _searchable(obj_type, obj)).lower()
        result = bool(value) and value in haystack
    elif kind == "field_condition":
        field = node.get("field") or {}
        if field.get("type") == "custom_field":
            value = obj.custom.get("custom." + str(field.get("custom_field_id"))) if not isinstance(obj, dict) else None
            is_phone = False
        elif field.get("type") == "regular_field":
            if field.get("object_type") != obj_type:
                raise QueryError(f"Field of {field.get('object_type')} used on {obj_type}.")
            value = _field_value(obj_type, obj, field.get("field_name", ""))
            is_phone = (obj_type, field.get("field_name")) in PHONE_FIELDS
        else:
            raise QueryError("field_condition needs a regular_field or custom_field.")
        result = _condition(value, node.get("condition") or {}, is_phone)
    elif kind == "has_related":
        if node.get("this_object_type") not in (None, obj_type):
            raise QueryError("this_object_type does not match the object being searched.")
        related_type = node.get("related_object_type")
        related = _related(obj_type, obj, related_type)
        sub = node.get("related_query") or {"type": "and", "queries": []}
        result = any(matches(sub, rtype, robj) for rtype, robj in related)
    else:
        raise QueryError(f"Unsupported query type {kind!r}.")
    return not result if node.get("negate") else result


def _searchable(obj_type, obj):
    if obj_type == "contact":
        return [obj.name, obj.title] + [p["phone"] for p in obj.phones] + [e["email"] for e in obj.emails]
    if obj_type == "lead":
        return [obj.name, obj.description] + [
            v for c in world().lead_contacts(obj) for v in _searchable("contact", c)]
    return [v for v in obj.values()] if isinstance(obj, dict) else []


def _object_types(node) -> set:
    """Object types required by the top-level query (object_type nodes, possibly under 'and')."""
    if node.get("type") == "object_type":
        return {node.get("object_type")}
    if node.get("type") == "and":
        found = set()
        for q in node.get("queries") or []:
            if isinstance(q, dict):
                found |= _object_types(q)
        return found
    if node.get("type") == "or":
        sets = [_object_types(q) for q in node.get("queries") or [] if isinstance(q, dict)]
        return set().union(*sets) if sets else set()
    return set()


def _indexed(obj):
    """Search sees an object only once the (asynchronous) index has caught up with it."""
    return obj.indexed_at <= world().now()


def _candidates(obj_type):
    w, c = world(), caller()
    leads = [ld for ld in w.leads.values() if c.can_see_lead(ld)]
    if obj_type == "lead":
        return [ld for ld in leads if _indexed(ld)]
    return [ct for ld in leads for ct in w.lead_contacts(ld) if _indexed(ct)]


def _render(obj_type, obj, fields_spec):
    w = world()
    full = serialize.lead(w, obj, sandbox().public_url) if obj_type == "lead" else serialize.contact(w, obj)
    wanted = (fields_spec or {}).get(obj_type) or ["id"]
    out = {"__object_type": obj_type}
    out.update(serialize.pick_fields(full, wanted))
    return out


def _sort_key_fn(sort):
    if not sort:
        return lambda item: (item[1].date_created, item[1].id), False
    if not isinstance(sort, list) or len(sort) != 1 or not isinstance(sort[0], dict):
        raise QueryError("sort must be a list with one {direction, field} entry.")
    spec = sort[0]
    name = (spec.get("field") or {}).get("field_name")
    reverse = spec.get("direction", "asc") == "desc"

    def key(item):
        value = _field_value(item[0], item[1], name)
        return (value is None, value if value is not None else 0, item[1].id)
    return key, reverse


def _cursor_for(fingerprint, offset):
    raw = json.dumps({"f": fingerprint, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset_from(cursor, fingerprint):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        if data["f"] != fingerprint:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise field_errors({"cursor": "Invalid cursor."})


@bp.post("/data/search/")
def data_search():
    body = json_body()
    unknown = set(body) - {"query", "_fields", "_limit", "cursor", "include_counts", "results_limit", "sort"}
    if unknown:
        raise field_errors({k: "Unknown field." for k in sorted(unknown)})
    query = body.get("query")
    if not isinstance(query, dict):
        raise field_errors({"query": "This field is required."})
    limit = body.get("_limit", DEFAULT_LIMIT)
    results_limit = body.get("results_limit")
    if not isinstance(limit, int) or limit < 1:
        raise field_errors({"_limit": "Must be a positive integer."})
    if results_limit is not None and (not isinstance(results_limit, int) or results_limit < 1):
        raise field_errors({"results_limit": "Must be a positive integer."})
    fields_spec = body.get("_fields")
    if fields_spec is not None and not isinstance(fields_spec, dict):
        raise field_errors({"_fields": "Must map object types to field lists."})
    types = _object_types(query)
    if not types or not types <= set(OBJECT_TYPES):
        raise field_errors({"query": "The query must restrict object_type to lead or contact."})
    try:
        hits = [(t, obj) for t in sorted(types) for obj in _candidates(t) if matches(query, t, obj)]
        key, reverse = _sort_key_fn(body.get("sort"))
        hits.sort(key=key, reverse=reverse)
    except QueryError as exc:
        raise ApiError(400, {"errors": [str(exc)], "field-errors": {}})
    total = len(hits)
    capped = min(total, results_limit or MAX_RESULTS, MAX_RESULTS)
    fingerprint = hashlib.sha1(json.dumps([query, body.get("sort"), results_limit], sort_keys=True).encode()).hexdigest()[:16]
    offset = _offset_from(body["cursor"], fingerprint) if body.get("cursor") else 0
    end = min(offset + min(limit, MAX_LIMIT), capped)
    page_hits = hits[offset:end]
    out = {"data": [_render(t, obj, fields_spec) for t, obj in page_hits],
           "cursor": _cursor_for(fingerprint, end) if end < capped else None}
    if body.get("include_counts"):
        out["count"] = {"total": total, "limited": capped}
    return jsonify(out)
