"""Every route with real Acme ids for its URL parameters (the route matrix and the every-page sweep)."""
import re

from webapp.core.extensions import db

# Routes anyone may reach (sign-in, invite links, health, static files, the machine API).
PUBLIC_PREFIXES = ("/auth/login", "/auth/invite/", "/healthz", "/readyz", "/metrics", "/static/", "/bootstrap/", "/api/")
PUBLIC_EXACT = {"/"}


def acme_objects(demo):
    """Ids of real Acme rows for every URL parameter a route can take."""
    from webapp.models import ApiKey, Invitation
    acme = demo.acme
    member = demo.memberships["member@acme.test"]
    inv, _ = Invitation.create(acme, "new@acme.test", "member", demo.users["owner@acme.test"])
    key, _ = ApiKey.generate(acme, "bridge", demo.users["owner@acme.test"])
    db.session.add_all([inv, key])
    db.session.commit()
    values = {
        "membership_id": member.id,
        "number_id": member.numbers[0].id,
        "invitation_id": inv.id,
        "key_id": key.id,
    }
    values.update(extra_acme_ids(demo))
    return values


def route_url(rule, values):
    """The rule's URL with each parameter filled from `values` (see acme_objects)."""
    missing = [a for a in rule.arguments if a not in values]
    assert not missing, f"{rule.rule}: add an Acme id for {missing} to tests/helpers/routes.py"
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def extra_acme_ids(demo):
    """Feature modules add rows here so that every route parameter gets a real Acme id."""
    values = {}
    try:
        from webapp.models import Chat, Message, utcnow
        number = demo.memberships["member@acme.test"].numbers[0]
        chat = Chat(workspace_id=demo.acme.id, whatsapp_number_id=number.id, external_id="matrix-chat",
                    kind="direct", remote_phone="+14155550123", display_name="Matrix")
        db.session.add(chat)
        db.session.flush()
        message = Message(workspace_id=demo.acme.id, chat_id=chat.id, whatsapp_number_id=number.id,
                          external_id="matrix-msg", direction="incoming", sent_at=utcnow(), text="hi",
                          state="failed")
        db.session.add(message)
        db.session.commit()
        values.update(chat_id=chat.id, message_id=message.id)
    except ImportError:
        pass
    from webapp.models import CloudApiNumber
    cloud = CloudApiNumber(workspace_id=demo.acme.id, phone_number_id="1099990001",
                           whatsapp_number_id=demo.memberships["owner@acme.test"].numbers[0].id)
    db.session.add(cloud)
    db.session.commit()
    values["cloud_number_id"] = cloud.id
    try:
        from webapp.core import crypto
        from webapp.models import Gateway, NumberLink
        member = demo.memberships["member@acme.test"]
        gateway = Gateway(workspace_id=demo.acme.id, kind="waha", name="Matrix WAHA", base_url="http://127.0.0.1:9",
                          api_key_enc=crypto.encrypt("matrix-key"))
        db.session.add(gateway)
        db.session.flush()
        link = NumberLink(workspace_id=demo.acme.id, gateway_id=gateway.id, membership_id=member.id,
                          session_name="matrix", state="failed", hmac_key_enc=crypto.encrypt("matrix-hmac"))
        db.session.add(link)
        db.session.commit()
        values.update(gateway_id=gateway.id, link_id=link.id)
        from webapp.models import ExclusionEntry
        entry = ExclusionEntry(workspace_id=demo.acme.id, kind="phone", value="+14155550124")
        db.session.add(entry)
        db.session.commit()
        values.update(entry_id=entry.id)
        from webapp.models import HistoryImport
        number = demo.memberships["member@acme.test"].numbers[0]
        row = HistoryImport(workspace_id=demo.acme.id, whatsapp_number_id=number.id, since=utcnow(),
                            until=utcnow(), scope="all", state="planned", plan={"messages": 0}, progress={})
        db.session.add(row)
        db.session.commit()
        values.update(import_id=row.id)
    except ImportError:
        pass
    return values
