"""Retention and "forget this customer": what Closeline erases, what it keeps so nothing syncs
twice, and the refusals of bad input."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers.messages import body, messages

CUSTOMER = "+14155550101"


def _db():
    from webapp.core.extensions import db
    return db


@pytest.mark.parametrize("days", ["0", "-3", "3651", "99999999999", "ten", "1.5"])
def test_a_retention_outside_1_to_3650_days_is_refused_and_nothing_is_saved(app, demo, login, days):
    from webapp.messages import gate
    admin = login("admin@acme.test")
    response = admin.post("/privacy/retention", data={"retention_days": days}, follow_redirects=True)
    assert "whole number from 1 to 3650" in response.get_data(as_text=True)
    assert gate.settings_for(demo.acme.id).retention_days is None


def test_retention_erases_handled_texts_and_keeps_ids_states_and_activities(app, api, sandbox_connection, close_sandbox,
                                                                          drain_now, demo, login):
    from webapp.messages import erasure
    from webapp.models import Message, utcnow
    admin = login("admin@acme.test")
    for name in ("old-1", "old-2", "new-1"):
        assert api.post(body(name, phone=CUSTOMER, text=f"text of {name}")).status_code == 202
    drain_now(demo.acme.id)
    assert admin.post("/privacy/retention", data={"retention_days": "30"}).status_code == 302
    page = admin.get("/privacy/").get_data(as_text=True)
    assert 'value="30"' in page and "The oldest text still kept is erased on" in page
    old = utcnow() - timedelta(days=31)
    _db().session.execute(sa.update(Message).where(Message.external_id.in_(("old-1", "old-2"))).values(updated_at=old))
    _db().session.commit()
    assert erasure.erase_expired() == 2
    rows = {m.external_id: m for m in messages()}
    assert [rows[k].text for k in ("old-1", "old-2")] == ["", ""] and rows["new-1"].text == "text of new-1"
    assert all(m.state == "synced" and m.close_activity_id for m in rows.values())
    # The same message delivered again is a duplicate, not a second activity.
    assert api.post(body("old-1", phone=CUSTOMER, text="text of old-1")).status_code == 200
    assert len(messages(external_id="old-1")) == 1


def test_forget_a_customer_erases_their_rows_and_excludes_the_number(app, api, sandbox_connection, close_sandbox,
                                                                    drain_now, demo, login):
    from webapp.models import Chat, ConnectionEvent, ExclusionEntry
    admin = login("admin@acme.test")
    api.post(body("forget-1", phone=CUSTOMER, text="my address is 1 Main St"))
    api.post(body("keep-1", phone="+14155550102", text="another customer"))
    drain_now(demo.acme.id)
    response = admin.post("/privacy/forget", data={"phone": "+1 415 555 0101"}, follow_redirects=True)
    assert "Close already holds stays in Close" in response.get_data(as_text=True)
    assert [m.external_id for m in messages()] == ["keep-1"]
    assert _db().session.scalar(sa.select(Chat).where(Chat.remote_phone == CUSTOMER)) is None
    assert _db().session.scalar(sa.select(ExclusionEntry.value)) == CUSTOMER
    assert _db().session.scalar(sa.select(ConnectionEvent).where(ConnectionEvent.kind == "customer_forgotten"))
    api.post(body("forget-2", phone=CUSTOMER, text="still there?"))
    [later] = messages(external_id="forget-2")
    assert later.state == "skipped" and later.text == ""


def test_forget_refuses_a_bad_number_and_is_for_owner_and_admins(app, demo, login):
    admin = login("admin@acme.test")
    response = admin.post("/privacy/forget", data={"phone": "not a phone"}, follow_redirects=True)
    assert response.status_code == 200 and "alert-danger" in response.get_data(as_text=True)
    assert login("member@acme.test").post("/privacy/forget", data={"phone": CUSTOMER}).status_code == 403
    assert login("member@acme.test").post("/privacy/retention", data={"retention_days": "5"}).status_code == 403
