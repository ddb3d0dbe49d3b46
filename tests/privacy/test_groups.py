"""Opt-in group chats: skipped until an owner/admin pins one to a lead (lead picker over the Close
client), then its messages land on that lead with each sender's name and number; unpinning stops it."""
import re

import sqlalchemy as sa

from tests.helpers.messages import activities, body, messages


def _group(message_id, sender=("Lucille Bluth", "+14155550177"), text="Board meeting at 10"):
    item = body(message_id, kind="group", phone=None, chat_id="grp-bluth", name="Bluth family", text=text)
    item["message"]["sender"] = {"name": sender[0], "phone": sender[1]}
    return item


def test_a_pinned_groups_messages_land_on_its_lead(app, api, sandbox_connection, close_sandbox, drain_now, demo, ids, login):
    from webapp.core.extensions import db
    from webapp.models import Chat
    assert api.post(_group("g-before")).status_code == 202
    drain_now(demo.acme.id)
    assert messages()[0].state == "skipped"
    chat = db.session.scalar(sa.select(Chat).where(Chat.external_id == "grp-bluth"))

    admin = login("admin@acme.test")
    page = admin.get("/privacy/").get_data(as_text=True)
    assert "Bluth family" in page and "Search Close leads by name" in page
    options = admin.get(f"/privacy/leads?chat_id={chat.id}&q=blu", headers={"HX-Request": "true"})
    assert options.status_code == 200
    picked = re.findall(r'name="lead_id" value="([^"]+)"', options.get_data(as_text=True))
    assert picked == [ids.bluth]
    assert "Type at least 2 letters" in admin.get(f"/privacy/leads?chat_id={chat.id}&q=b").get_data(as_text=True)
    assert admin.post(f"/privacy/groups/{chat.id}/pin", data={"lead_id": picked[0]}).status_code == 302
    assert "Bluth Company" in admin.get("/privacy/").get_data(as_text=True)

    api.post(_group("g-1"))
    api.post(_group("g-2", sender=("Buster", "+14155550178"), text="Can't make it"))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert rows["g-before"].state == "skipped"              # nothing earlier changes
    assert rows["g-1"].state == "synced" and rows["g-1"].close_lead_id == ids.bluth
    first, second = activities(close_sandbox, "g-1")[0], activities(close_sandbox, "g-2")[0]
    assert first["lead_id"] == ids.bluth and first["contact_id"] == ids.gob
    assert first["message_markdown"] == "**Lucille Bluth (+14155550177)** in Bluth family:\nBoard meeting at 10"
    assert second["message_markdown"].startswith("**Buster (+14155550178)**")
    assert first["remote_phone"] == "+14155550177"

    assert admin.post(f"/privacy/groups/{chat.id}/unpin").status_code == 302
    api.post(_group("g-3"))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert rows["g-3"].state == "skipped" and rows["g-1"].state == "synced"
    assert activities(close_sandbox, "g-3") == [] and len(activities(close_sandbox, "g-1")) == 1


def test_pinning_refuses_unknown_leads_and_members(app, api, sandbox_connection, close_sandbox, demo, login):
    from webapp.core.extensions import db
    from webapp.models import Chat
    api.post(_group("g-x"))
    chat = db.session.scalar(sa.select(Chat).where(Chat.external_id == "grp-bluth"))
    admin = login("admin@acme.test")
    assert admin.post(f"/privacy/groups/{chat.id}/pin", data={"lead_id": "lead_nope"}).status_code == 303
    assert "Close has no lead lead_nope" in admin.get("/privacy/").get_data(as_text=True)
    member = login("member@acme.test")
    assert member.post(f"/privacy/groups/{chat.id}/pin", data={"lead_id": "lead_x"}).status_code == 403
    assert member.get(f"/privacy/leads?chat_id={chat.id}&q=blu").status_code == 403
    db.session.expire_all()
    assert db.session.get(Chat, chat.id).pinned_lead_id is None
