"""GET /api/docs: the OpenAPI document rendered as a readable page (server-side, no JavaScript).

The page is built from the same document as /api/openapi.json, so the two never disagree.
"""
from flask import render_template

from webapp.api.blueprint import bp
from webapp.api.openapi import document

METHOD_ORDER = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


def type_text(schema):
    """A short human description of a schema's type: 'string (date-time)', 'array of MessageIn'…"""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(REF_PREFIX)
    if "oneOf" in schema:
        return " or ".join(type_text(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_text(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and not schema.get("properties"):
        return f"map of {type_text(schema['additionalProperties'])}"
    text = f"{kind} ({schema['format']})" if "format" in schema else kind
    return text + (", nullable" if schema.get("nullable") else "")


def constraints(schema):
    """Enum, bounds, defaults and examples as short phrases."""
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "min"),
                       ("maxItems", "max items"), ("minItems", "min items"), ("default", "default"),
                       ("example", "e.g.")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    return "; ".join(parts)


def field_rows(schema, prefix=""):
    """Every field of an object schema, nested objects flattened to dotted paths (chat.phone)."""
    rows = []
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        rows.append({"path": path, "type": type_text(sub), "ref": _ref_name(sub), "required": name in required,
                     "description": sub.get("description", ""), "constraints": constraints(sub)})
        if sub.get("type") == "object" and sub.get("properties"):
            rows.extend(field_rows(sub, path + "."))
        elif sub.get("type") == "array" and sub.get("items", {}).get("properties"):
            rows.extend(field_rows(sub["items"], path + "[]."))
    return rows


def _ref_name(schema):
    target = schema.get("items", schema) if schema.get("type") == "array" else schema
    ref = target.get("$ref", "")
    return ref.removeprefix(REF_PREFIX) or None


def _body(content):
    media, spec = next(iter(content.items()))
    return {"media": media, "type": type_text(spec.get("schema", {})), "ref": _ref_name(spec.get("schema", {}))}


def operations(doc):
    ops = []
    for path, methods in doc["paths"].items():
        for method in sorted(methods, key=METHOD_ORDER.index):
            op = methods[method]
            ops.append({
                "id": op.get("operationId", f"{method}-{path}"), "method": method.upper(), "path": path,
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "auth": bool(op.get("security")),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": type_text(p.get("schema", {})),
                                "constraints": constraints(p.get("schema", {}))} for p in op.get("parameters", [])],
                "body": _body(op["requestBody"]["content"]) if op.get("requestBody") else None,
                "responses": [{"status": status, "description": r.get("description", ""),
                               **(_body(r["content"]) if r.get("content") else {"type": None, "ref": None})}
                              for status, r in sorted(op.get("responses", {}).items())],
            })
    return ops


def schemas(doc):
    return [{"name": name, "description": s.get("description", ""), "type": type_text(s), "fields": field_rows(s)}
            for name, s in doc["components"]["schemas"].items()]


@bp.get("/docs")
def docs():
    doc = document()
    return render_template("api/docs.html", info=doc["info"], version=doc["openapi"],
                           operations=operations(doc), schemas=schemas(doc))
