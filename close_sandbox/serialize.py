"""JSON shapes of Close objects (close-api.md §3–§5, close-openapi.yml schemas)."""
import hashlib

from .ids import iso
from .state import Contact, Lead, Membership, Organization, Role, User, WhatsAppMessage, World

BUILTIN_ROLE_DATE = "0001-01-01T00:00:00"  # what real role listings show for built-in roles


def _iso_or_none(ts):
    return iso(ts) if ts is not None else None


def pick_fields(obj: dict, fields) -> dict:
    """Apply `_fields=a,b,c` (also accepts a list)."""
    if not fields:
        return obj
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    if "_all" in fields:
        return obj
    out = {}
    for name in fields:
        if name == "custom":
            out.update({k: v for k, v in obj.items() if k.startswith("custom.")})
        elif name in obj:
            out[name] = obj[name]
    return out


def user_name(world: World, user_id):
    user = world.users.get(user_id) if user_id else None
    return user.full_name if user else None


def image_url(user: User) -> str:
    digest = hashlib.md5(user.email.encode()).hexdigest()  # gravatar convention
    return f"https://secure.gravatar.com/avatar/{digest}?d=mm"


def organization_summary(org: Organization) -> dict:
    return {
        "id": org.id, "name": org.name, "created_by": org.created_by,
        "date_created": iso(org.date_created), "date_updated": iso(org.date_updated),
        "lead_statuses": [dict(s) for s in org.lead_statuses],
        "pipelines": [{**p, "statuses": [dict(s) for s in p["statuses"]]} for p in org.pipelines],
    }


def membership_for_me(world: World, m: Membership) -> dict:
    role = world.role(m.organization_id, m.role_id)
    return {
        "id": m.id, "organization_id": m.organization_id, "user_id": m.user_id,
        "role_id": m.role_id, "permissions_granted": list(role.permissions) if role else [],
        "auto_record_calls": "unset", "track_email_opens": True,
        "date_created": iso(m.date_created),
    }


def me(world: World, user: User) -> dict:
    memberships = world.user_memberships(user.id)
    return {
        "id": user.id, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "image": image_url(user), "last_used_timezone": "America/Los_Angeles",
        "date_created": iso(user.date_created), "date_updated": iso(user.date_updated),
        "email_accounts": [], "phone_numbers": [],
        "organizations": [organization_summary(world.org(m.organization_id)) for m in memberships],
        "memberships": [membership_for_me(world, m) for m in memberships],
    }


def user(world: World, u: User) -> dict:
    return {
        "id": u.id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "image": image_url(u), "date_created": iso(u.date_created), "date_updated": iso(u.date_updated),
        "organizations": [m.organization_id for m in world.user_memberships(u.id)],
    }


def org_membership(world: World, m: Membership, expand_user: bool) -> dict:
    role = world.role(m.organization_id, m.role_id)
    u = world.users[m.user_id]
    out = {
        "id": m.id, "organization_id": m.organization_id, "user_id": u.id, "role_id": m.role_id,
        "permissions_granted": list(role.permissions) if role else [],
        "auto_record_calls": "unset", "track_email_opens": True,
        "date_created": iso(m.date_created),
    }
    if expand_user:
        out["user"] = user(world, u)
    else:
        out.update({
            "user_email": u.email, "user_first_name": u.first_name, "user_last_name": u.last_name,
            "user_full_name": u.full_name, "user_phone": None, "user_image": image_url(u),
        })
    return out


def organization(world: World, org: Organization, expand: set) -> dict:
    out = organization_summary(org)
    out.update({
        "currency": org.currency, "currency_symbol": "$", "plan_type": "business",
        "memberships": [org_membership(world, m, "memberships__user" in expand)
                        for m in world.org_memberships(org.id, active=True)],
        "inactive_memberships": [org_membership(world, m, "inactive_memberships__user" in expand)
                                 for m in world.org_memberships(org.id, active=False)],
    })
    return out


def role(r: Role) -> dict:
    sees_all = r.sees_all_leads
    return {
        "id": r.id, "name": r.name, "editable": r.editable, "organization_id": r.organization_id,
        "permissions": list(r.permissions),
        # With view_all_leads both visibility fields are empty; "own leads" = require_assignment.
        "visibility_user_lcf_ids": [] if sees_all else list(r.visibility_user_lcf_ids),
        "visibility_user_lcf_behavior": None if sees_all else "require_assignment",
        "date_created": iso(r.date_created) if r.date_created is not None else BUILTIN_ROLE_DATE,
        "date_updated": iso(r.date_updated) if r.date_updated is not None else BUILTIN_ROLE_DATE,
    }


def contact(world: World, c: Contact) -> dict:
    out = {
        "id": c.id, "lead_id": c.lead_id, "organization_id": c.organization_id,
        "name": c.name, "display_name": c.name or "", "title": c.title,
        "phones": [dict(p) for p in c.phones],
        "emails": [dict(e) for e in c.emails],
        "urls": [dict(u) for u in c.urls],
        "integration_links": [],
        "created_by": c.created_by, "updated_by": c.updated_by,
        "date_created": iso(c.date_created), "date_updated": iso(c.date_updated),
    }
    out.update(c.custom)
    return out


def lead(world: World, ld: Lead, public_url: str) -> dict:
    org = world.organizations[ld.organization_id]
    status = next((s for s in org.lead_statuses if s["id"] == ld.status_id), None)
    contacts = [contact(world, c) for c in world.lead_contacts(ld)]
    first_phone = next((p for c in contacts for p in c["phones"]), None)
    first_email = next((e for c in contacts for e in c["emails"]), None)
    out = {
        "id": ld.id, "name": ld.name, "display_name": ld.name or "", "description": ld.description,
        "url": ld.url, "status_id": ld.status_id, "status_label": status["label"] if status else "",
        "html_url": f"{public_url}/lead/{ld.id}/", "organization_id": ld.organization_id,
        "contacts": contacts, "contact_ids": [c["id"] for c in contacts],
        "addresses": [dict(a) for a in ld.addresses], "opportunities": [], "tasks": [],
        "integration_links": [], "primary_phone": first_phone, "primary_email": first_email,
        "created_by": ld.created_by, "created_by_name": user_name(world, ld.created_by),
        "updated_by": ld.updated_by, "updated_by_name": user_name(world, ld.updated_by),
        "date_created": iso(ld.date_created), "date_updated": iso(ld.date_updated),
    }
    out.update(ld.custom)
    return out


def whatsapp(world: World, a: WhatsAppMessage) -> dict:
    from .markdown import whatsapp_to_html, whatsapp_to_text

    return {
        "id": a.id, "_type": "WhatsAppMessage", "organization_id": a.organization_id,
        "lead_id": a.lead_id, "contact_id": a.contact_id,
        "user_id": a.user_id, "user_name": user_name(world, a.user_id), "users": [],
        "direction": a.direction, "external_whatsapp_message_id": a.external_whatsapp_message_id,
        "message_markdown": a.message_markdown, "message_html": whatsapp_to_html(a.message_markdown),
        "text": whatsapp_to_text(a.message_markdown),
        "local_phone": a.local_phone["phone"], "local_phone_formatted": a.local_phone["phone_formatted"],
        "remote_phone": a.remote_phone["phone"], "remote_phone_formatted": a.remote_phone["phone_formatted"],
        "attachments": [dict(att) for att in a.attachments],
        "integration_link": a.integration_link, "integration_name": a.integration_name,
        "response_to_id": a.response_to_id, "source": "api",
        "sequence_id": None, "sequence_name": None, "sequence_subscription_id": None,
        "activity_at": iso(a.activity_at),
        "date_created": iso(a.date_created), "date_updated": iso(a.date_updated),
        "created_by": a.created_by, "created_by_name": user_name(world, a.created_by),
        "updated_by": a.updated_by, "updated_by_name": user_name(world, a.updated_by),
    }
