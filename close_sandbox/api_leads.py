"""/lead/ and /contact/ endpoints."""
from flask import jsonify, request

from . import phones, serialize
from .api import bp, caller, fields_arg, json_body, page, visible_contact, visible_lead, world
from .errors import bad_request, field_errors, not_found
from .ids import random_id
from .state import Contact, Lead

ADDRESS_KEYS = ("label", "address_1", "address_2", "city", "state", "zipcode", "country")


def _custom(body: dict) -> dict:
    return {k: v for k, v in body.items() if k.startswith("custom.")}


def parse_phone_list(value, field="phones") -> list:
    """Phones normalized in the organization's country; unparseable ones are kept as typed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise field_errors({field: "Must be a list."})
    out = []
    region = caller().org.country
    for entry in value:
        raw = entry.get("phone") if isinstance(entry, dict) else None
        normalized = phones.stored(raw, region)
        if normalized is None:
            raise field_errors({field: f"Invalid phone number: {raw!r}"})
        out.append({**normalized, "type": entry.get("type") or "office"})
    return out


def _parse_list(value, field, key) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, dict) and isinstance(e.get(key), str) for e in value):
        raise field_errors({field: f"Each entry needs a '{key}' string."})
    return value


def parse_emails(value) -> list:
    return [{"email": e["email"].strip(), "type": e.get("type") or "office",
             "is_unsubscribed": bool(e.get("is_unsubscribed", False))}
            for e in _parse_list(value, "emails", "email")]


def parse_urls(value) -> list:
    return [{"url": u["url"], "type": u.get("type") or "url"} for u in _parse_list(value, "urls", "url")]


def parse_addresses(value) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise field_errors({"addresses": "Must be a list of objects."})
    return [{k: a.get(k) for k in ADDRESS_KEYS} for a in value]


def _optional_str(body, key):
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise field_errors({key: "Not a valid string."})
    return value


def resolve_status(org, body, required_default=True):
    if "status_id" in body and "status" in body:
        raise bad_request("Post either status or status_id, not both.")
    if "status_id" in body:
        status = next((s for s in org.lead_statuses if s["id"] == body["status_id"]), None)
        if status is None:
            raise field_errors({"status": "Object does not exist."})
        return status["id"]
    if "status" in body:
        status = next((s for s in org.lead_statuses if s["label"] == body["status"]), None)
        if status is None:
            raise field_errors({"status": "Object does not exist."})
        return status["id"]
    return org.lead_statuses[0]["id"] if required_default else None


def build_contact(body: dict, lead: Lead) -> Contact:
    c, w = caller(), world()
    now = w.now()
    return Contact(
        random_id("cont_"), lead.organization_id, lead.id, _optional_str(body, "name"), _optional_str(body, "title"),
        parse_phone_list(body.get("phones")), parse_emails(body.get("emails")), parse_urls(body.get("urls")),
        c.user.id, c.user.id, now, now, _custom(body), indexed_at=_indexed_at(now),
    )


def _indexed_at(now):
    from .core import sandbox
    return now + sandbox().index_delay


def new_lead(name, status_id, body=None) -> Lead:
    c, w = caller(), world()
    now = w.now()
    body = body or {}
    return Lead(random_id("lead_"), c.org.id, name, _optional_str(body, "description"), _optional_str(body, "url"),
                status_id, c.user.id, c.user.id, c.user.id, now, now,
                parse_addresses(body.get("addresses")), _custom(body), indexed_at=_indexed_at(now))


def lead_json(lead):
    return serialize.lead(world(), lead, _public_url())


def _public_url():
    from .core import sandbox
    return sandbox().public_url


# --- leads -------------------------------------------------------------------

@bp.post("/lead/")
def create_lead():
    body, w = json_body(), world()
    status_id = resolve_status(caller().org, body)
    lead = new_lead(_optional_str(body, "name"), status_id, body)
    contacts_in = body.get("contacts") or []
    if not isinstance(contacts_in, list) or not all(isinstance(x, dict) for x in contacts_in):
        raise field_errors({"contacts": "Must be a list of objects."})
    contacts = [build_contact(x, lead) for x in contacts_in]  # validate all before writing
    for contact in contacts:
        w.contacts[contact.id] = contact
        lead.contact_ids.append(contact.id)
    w.leads[lead.id] = lead
    return jsonify(lead_json(lead))


@bp.get("/lead/")
def list_leads():
    if request.args.get("query"):
        raise bad_request("The sandbox does not implement the deprecated lead 'query' search; use /data/search/.")
    c, w = caller(), world()
    leads = sorted((ld for ld in w.leads.values() if c.can_see_lead(ld)), key=lambda ld: (ld.date_created, ld.id))
    chunk, more = page(leads, 100, 200)
    return jsonify({"data": [serialize.pick_fields(lead_json(ld), fields_arg()) for ld in chunk],
                    "has_more": more, "total_results": len(leads)})


def _lead_or_404(lead_id):
    lead = visible_lead(lead_id)
    if lead is None:
        raise not_found("Lead")
    return lead


@bp.get("/lead/<lead_id>/")
def get_lead(lead_id):
    return jsonify(serialize.pick_fields(lead_json(_lead_or_404(lead_id)), fields_arg()))


@bp.put("/lead/<lead_id>/")
def update_lead(lead_id):
    lead = _lead_or_404(lead_id)
    body, w = json_body(), world()
    status_id = resolve_status(caller().org, body, required_default=False)
    for key in ("name", "description", "url"):
        if key in body:
            setattr(lead, key, _optional_str(body, key))
    if "addresses" in body:
        lead.addresses = parse_addresses(body["addresses"])
    if status_id:
        lead.status_id = status_id
    for key, value in _custom(body).items():
        if value is None:
            lead.custom.pop(key, None)
        else:
            lead.custom[key] = value
    lead.updated_by, lead.date_updated = caller().user.id, w.now()
    return jsonify(lead_json(lead))


@bp.delete("/lead/<lead_id>/")
def delete_lead(lead_id):
    lead = _lead_or_404(lead_id)
    w = world()
    for cid in lead.contact_ids:
        w.contacts.pop(cid, None)
    for aid in [a.id for a in w.whatsapp.values() if a.lead_id == lead.id]:
        del w.whatsapp[aid]
    del w.leads[lead.id]
    return jsonify({})


# --- contacts ----------------------------------------------------------------

@bp.post("/contact/")
def create_contact():
    body, w = json_body(), world()
    lead = None
    if body.get("lead_id") is not None:
        lead = visible_lead(body["lead_id"])
        if lead is None:
            raise field_errors({"lead": "Object does not exist."})
    new = lead is None
    if new:  # Close creates a lead named after the contact when lead_id is omitted
        lead = new_lead(_optional_str(body, "name"), caller().org.lead_statuses[0]["id"])
    contact = build_contact(body, lead)
    if new:
        w.leads[lead.id] = lead
    w.contacts[contact.id] = contact
    lead.contact_ids.append(contact.id)
    lead.date_updated = w.now()
    return jsonify(serialize.pick_fields(serialize.contact(w, contact), fields_arg()))


@bp.get("/contact/")
def list_contacts():
    w = world()
    lead_id = request.args.get("lead_id")
    contacts = [ct for ct in w.contacts.values()
                if (not lead_id or ct.lead_id == lead_id) and visible_lead(ct.lead_id) is not None]
    contacts.sort(key=lambda ct: (ct.date_created, ct.id))
    chunk, more = page(contacts, 100, 200)
    return jsonify({"data": [serialize.pick_fields(serialize.contact(w, ct), fields_arg()) for ct in chunk],
                    "has_more": more})


def _contact_or_404(contact_id):
    contact = visible_contact(contact_id)
    if contact is None:
        raise not_found("Contact")
    return contact


@bp.get("/contact/<contact_id>/")
def get_contact(contact_id):
    return jsonify(serialize.pick_fields(serialize.contact(world(), _contact_or_404(contact_id)), fields_arg()))


@bp.put("/contact/<contact_id>/")
def update_contact(contact_id):
    contact = _contact_or_404(contact_id)
    body, w = json_body(), world()
    updates = {}
    for key in ("name", "title"):
        if key in body:
            updates[key] = _optional_str(body, key)
    if "phones" in body:
        updates["phones"] = parse_phone_list(body["phones"])
    if "emails" in body:
        updates["emails"] = parse_emails(body["emails"])
    if "urls" in body:
        updates["urls"] = parse_urls(body["urls"])
    for key, value in updates.items():
        setattr(contact, key, value)
    for key, value in _custom(body).items():
        if value is None:
            contact.custom.pop(key, None)
        else:
            contact.custom[key] = value
    contact.updated_by, contact.date_updated = caller().user.id, w.now()
    return jsonify(serialize.pick_fields(serialize.contact(w, contact), fields_arg()))


@bp.delete("/contact/<contact_id>/")
def delete_contact(contact_id):
    contact = _contact_or_404(contact_id)
    w = world()
    lead = w.leads.get(contact.lead_id)
    if lead and contact.id in lead.contact_ids:
        lead.contact_ids.remove(contact.id)
    del w.contacts[contact.id]
    return jsonify({})
