"""/activity/whatsapp_message/ CRUD (close-api.md §5)."""
from flask import jsonify, request

from . import phones, serialize
from .api import bp, caller, fields_arg, json_body, page, visible_contact, visible_lead, world
from .core import sandbox
from .errors import field_errors, not_found
from .files import uploaded_file
from .ids import parse_datetime, random_id
from .state import WhatsAppMessage

REQUIRED = {"external_whatsapp_message_id", "lead_id", "contact_id", "direction", "activity_at",
            "local_phone", "remote_phone", "message_markdown"}
OPTIONAL = {"user_id", "attachments", "integration_link", "response_to_id"}
UPDATABLE = {"activity_at", "attachments", "contact_id", "direction", "integration_link", "local_phone",
             "message_markdown", "remote_phone", "response_to_id", "user_id"}
DIRECTIONS = ("incoming", "outgoing")
ATTACHMENT_KEYS = {"url", "filename", "content_type"}


def _attachments(value, errors):
    if not isinstance(value, list):
        errors["attachments"] = "Must be a list."
        return None
    sb = sandbox()
    out, total = [], 0
    for item in value:
        if not isinstance(item, dict) or set(item) != ATTACHMENT_KEYS or not all(
                isinstance(item[k], str) and item[k] for k in ATTACHMENT_KEYS):
            errors["attachments"] = "Each attachment needs exactly url, filename and content_type."
            return None
        if not item["url"].startswith(sb.file_prefix):
            errors["attachments"] = f"Attachment url must start with {sb.file_prefix}"
            return None
        upload = uploaded_file(item["url"])
        if upload is None:
            errors["attachments"] = f"File {item['url']} was not uploaded."
            return None
        total += len(upload.data)
        out.append({"url": item["url"], "filename": item["filename"], "content_type": item["content_type"],
                    "size": len(upload.data), "thumbnail_url": None})
    if total > sb.config["MAX_ATTACHMENT_BYTES"]:
        errors["attachments"] = "Total size of attachments exceeds 25 MB."
        return None
    return out


def _validate(body: dict, allowed: set, errors: dict, lead_id=None) -> dict:
    """Validate the known keys present in body; returns parsed values."""
    w, c = world(), caller()
    parsed = {}
    for key in sorted(set(body) - allowed):
        errors[key] = ("This field cannot be updated." if key in ("lead_id", "external_whatsapp_message_id")
                       else "Unknown field.")
    if "external_whatsapp_message_id" in allowed and "external_whatsapp_message_id" in body:
        value = body["external_whatsapp_message_id"]
        if not isinstance(value, str) or not value:
            errors["external_whatsapp_message_id"] = "Not a valid string."
        parsed["external_whatsapp_message_id"] = value
    if "lead_id" in allowed and "lead_id" in body:
        lead = visible_lead(body["lead_id"])
        if lead is None:
            errors["lead"] = "Object does not exist."
        else:
            lead_id = lead.id
    if "contact_id" in body:
        contact = visible_contact(body["contact_id"])
        if contact is None:
            errors["contact"] = "Object does not exist."
        elif lead_id and contact.lead_id != lead_id:
            errors["contact"] = "Contact does not belong to the lead."
        else:
            parsed["contact_id"] = contact.id
    if "direction" in body:
        if body["direction"] not in DIRECTIONS:
            errors["direction"] = "Must be one of: incoming, outgoing."
        parsed["direction"] = body["direction"]
    if "activity_at" in body:
        ts = parse_datetime(body["activity_at"])
        if ts is None:
            errors["activity_at"] = "Not a valid datetime."
        parsed["activity_at"] = ts
    for key in ("local_phone", "remote_phone"):
        if key in body:
            normalized = phones.normalize(body[key])
            if normalized is None:
                errors[key] = "Not a valid phone number."
            parsed[key] = normalized
    if "message_markdown" in body:
        if not isinstance(body["message_markdown"], str):
            errors["message_markdown"] = "Not a valid string."
        elif not body["message_markdown"].strip():
            errors["message_markdown"] = "This field may not be blank."
        parsed["message_markdown"] = body["message_markdown"]
    if "user_id" in body and body["user_id"] is not None:
        if not isinstance(body["user_id"], str) or w.membership(body["user_id"], c.org.id) is None:
            errors["user"] = "Object does not exist."
    if "user_id" in body:
        parsed["user_id"] = body["user_id"]
    if "integration_link" in body:
        link = body["integration_link"]
        if link is not None and not (isinstance(link, str) and 1 <= len(link) <= 2083 and "://" in link):
            errors["integration_link"] = "Enter a valid URL."
        parsed["integration_link"] = link
    if "response_to_id" in body:
        ref = body["response_to_id"]
        if ref is not None:
            target = w.whatsapp.get(ref) if isinstance(ref, str) else None
            if target is None or visible_lead(target.lead_id) is None:
                errors["response_to"] = "Object does not exist."
        parsed["response_to_id"] = ref
    if "attachments" in body:
        parsed["attachments"] = _attachments(body["attachments"], errors)
    return parsed


def _activity_or_404(activity_id) -> WhatsAppMessage:
    activity = world().whatsapp.get(activity_id)
    if activity is None or visible_lead(activity.lead_id) is None:
        raise not_found("WhatsAppMessage")
    return activity


def _bool_arg(name):
    raw = request.args.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no", ""):
        return False
    raise field_errors({name: "Not a valid boolean."})


@bp.post("/activity/whatsapp_message/")
def create_whatsapp():
    body, w, c = json_body(), world(), caller()
    send_to_inbox = _bool_arg("send_to_inbox")
    errors = {key: "This field is required." for key in sorted(REQUIRED - set(body))}
    parsed = _validate(body, REQUIRED | OPTIONAL, errors)
    if errors:
        raise field_errors(errors)
    now = w.now()
    activity = WhatsAppMessage(
        id=random_id("acti_"), organization_id=c.org.id, lead_id=body["lead_id"], contact_id=parsed["contact_id"],
        user_id=parsed.get("user_id") or c.user.id, direction=parsed["direction"],
        external_whatsapp_message_id=parsed["external_whatsapp_message_id"],
        message_markdown=parsed["message_markdown"], local_phone=parsed["local_phone"],
        remote_phone=parsed["remote_phone"], attachments=parsed.get("attachments") or [],
        integration_link=parsed.get("integration_link"), integration_name=c.integration_name,
        response_to_id=parsed.get("response_to_id"), activity_at=parsed["activity_at"],
        created_by=c.user.id, updated_by=c.user.id, date_created=now, date_updated=now,
        send_to_inbox=send_to_inbox and parsed["direction"] == "incoming",
    )
    w.whatsapp[activity.id] = activity
    return jsonify(serialize.whatsapp(w, activity))


def _csv(name):
    raw = request.args.get(name)
    return {v.strip() for v in raw.split(",") if v.strip()} if raw else None


def _date_filters():
    filters = []
    for field in ("date_created", "activity_at"):
        for op in ("gte", "lte", "gt", "lt"):
            raw = request.args.get(f"{field}__{op}")
            if raw is None:
                continue
            ts = parse_datetime(raw)
            if ts is None:
                raise field_errors({f"{field}__{op}": "Not a valid date or datetime."})
            filters.append((field, op, ts))
    return filters


_OPS = {"gte": lambda a, b: a >= b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "lt": lambda a, b: a < b}


@bp.get("/activity/whatsapp_message/")
def list_whatsapp():
    w, c = world(), caller()
    ids, leads, contacts, users = _csv("id__in"), _csv("lead_id"), _csv("contact_id"), _csv("user_id")
    external = request.args.get("external_whatsapp_message_id")
    org_filter = request.args.get("organization_id")
    type_filter = request.args.get("_type")
    dates = _date_filters()
    result = []
    for a in w.whatsapp.values():
        if a.organization_id != c.org.id or (org_filter and org_filter != a.organization_id):
            continue
        if type_filter and type_filter != "WhatsAppMessage":
            continue
        if (ids and a.id not in ids) or (leads and a.lead_id not in leads) or \
                (contacts and a.contact_id not in contacts) or (users and a.user_id not in users):
            continue
        if external is not None and a.external_whatsapp_message_id != external:
            continue
        if any(not _OPS[op](getattr(a, field), ts) for field, op, ts in dates):
            continue
        if visible_lead(a.lead_id) is None:
            continue
        result.append(a)
    result.sort(key=lambda a: (a.activity_at, a.date_created), reverse=True)  # newest first
    chunk, more = page(result, 100, 100)
    return jsonify({"data": [serialize.pick_fields(serialize.whatsapp(w, a), fields_arg()) for a in chunk],
                    "has_more": more})


@bp.get("/activity/whatsapp_message/<activity_id>/")
def get_whatsapp(activity_id):
    return jsonify(serialize.pick_fields(serialize.whatsapp(world(), _activity_or_404(activity_id)), fields_arg()))


@bp.put("/activity/whatsapp_message/<activity_id>/")
def update_whatsapp(activity_id):
    activity = _activity_or_404(activity_id)
    body, w = json_body(), world()
    errors = {}
    parsed = _validate(body, UPDATABLE, errors, lead_id=activity.lead_id)
    if errors:
        raise field_errors(errors)
    for key, value in parsed.items():
        if key == "user_id":
            value = value or caller().user.id
        if key == "attachments":
            value = value or []
        setattr(activity, key, value)
    activity.updated_by, activity.date_updated = caller().user.id, w.now()
    return jsonify(serialize.whatsapp(w, activity))


@bp.delete("/activity/whatsapp_message/<activity_id>/")
def delete_whatsapp(activity_id):
    activity = _activity_or_404(activity_id)
    del world().whatsapp[activity.id]
    return jsonify({})
