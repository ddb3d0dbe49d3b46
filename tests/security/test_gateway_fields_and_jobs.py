"""Gateway fields are checked before they are stored (an API key no header can carry is refused with
a clear form error), a row stored before that check no longer answers 500, and the scheduled jobs
that loop over rows (number health, event retries, gap recovery, the sweeper) run each row on its
own: one bad row fails only itself, is logged by its error's type and says so on the row."""
import logging

import pytest
import sqlalchemy as sa

from tests.helpers.recording_server import RecordingServer
from tests.helpers.whatsapp import make_link

BAD_KEYS = ["clé-secrète", "ключ", "key with space", "key\nX-Injected: 1", "tab\tkey", "\u200bzero-width"]


@pytest.fixture
def server(app):
    with RecordingServer() as srv:
        srv.route("/api/server/version", 200, {"version": "2026.7.1"})
        srv.route("/api/sessions", 200, [])
        srv.route("/api/sessions/mia", 200, {"name": "mia", "status": "WORKING"})
        app.config["GATEWAY_ALLOWED_HOSTS"] = f"127.0.0.1:{srv.port}"
        yield srv


def _count(model):
    from webapp.core.extensions import db
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_key_no_header_can_carry_is_refused_before_it_is_stored(app, demo, server, key):
    from webapp.models import Gateway
    from webapp.whatsapp import gateways_service
    with pytest.raises(gateways_service.InvalidGateway) as caught:
        gateways_service.add_gateway(demo.acme.id, name="Office", base_url=server.url(), api_key=key)
    assert "API key" in caught.value.errors["api_key"]
    assert _count(Gateway) == 0


def test_the_form_says_what_is_wrong_with_the_key(app, demo, login, server):
    from webapp.models import Gateway
    browser = login("owner@acme.test")
    response = browser.post("/whatsapp/gateways", data={"name": "Office", "kind": "waha", "base_url": server.url(),
                                                         "api_key": "pässwörd"})
    assert response.status_code == 400
    assert "The API key may hold only" in response.get_data(as_text=True)
    assert _count(Gateway) == 0


def test_a_printable_key_is_kept(app, demo, server):
    from webapp.core import crypto
    from webapp.whatsapp import gateways_service
    row = gateways_service.add_gateway(demo.acme.id, name="Office", base_url=server.url(),
                                       api_key="  Abc-123_~!$%&*+/=?^{|}  ")
    assert crypto.decrypt(row.api_key_enc) == "Abc-123_~!$%&*+/=?^{|}"


def _old_row(demo, server, key="ключ-secret"):
    """A gateway stored by an older Closeline, before keys were checked."""
    from webapp.core import crypto
    from webapp.core.extensions import db
    from webapp.models import Gateway
    row = Gateway(workspace_id=demo.acme.id, kind="waha", name="Old", base_url=server.url(),
                  api_key_enc=crypto.encrypt(key))
    db.session.add(row)
    db.session.commit()
    return row


def test_an_old_row_with_such_a_key_answers_test_link_and_remove(app, demo, login, server):
    from tests.helpers.workers import run_queued
    from webapp.models import Gateway
    gateway = _old_row(demo, server)
    browser = login("owner@acme.test")
    assert browser.post(f"/whatsapp/gateways/{gateway.id}/test", htmx=True).status_code == 200
    assert run_queued("jobs.whatsapp.test_gateway") == ["failed"]
    card = browser.get(f"/whatsapp/gateways/{gateway.id}", headers={"HX-Request": "true"})
    assert card.status_code == 200 and "remove this gateway" in card.get_data(as_text=True)
    member = demo.memberships["owner@acme.test"]
    number = member.numbers[0] if member.numbers else None
    linked = browser.post("/whatsapp/links", data={"gateway_id": gateway.id,
                                                   **({"number_id": number.id} if number else {})})
    assert linked.status_code < 500
    assert browser.post(f"/whatsapp/gateways/{gateway.id}/remove").status_code == 302
    assert _count(Gateway) == 0
    assert server.hits == []   # the key never left in a mangled form


def test_the_health_check_goes_on_past_a_bad_row(app, demo, server, monkeypatch, caplog):
    from webapp.core.extensions import db
    from webapp.models import NumberLink
    from webapp.whatsapp import gateways_service, health, linking
    good = gateways_service.add_gateway(demo.acme.id, name="Good", base_url=server.url(), api_key="k")
    bad = _old_row(demo, server)
    bad_link = make_link(demo, bad, session="mia", email="member@acme.test")
    good_link = make_link(demo, good, session="mia", email="owner@acme.test")
    good_link.state = "unreachable"
    db.session.commit()
    health.check_all()                                    # the unsendable key: a named state, no error
    assert db.session.get(NumberLink, bad_link.id).state == "unreachable"
    assert db.session.get(NumberLink, good_link.id).state == "linked"
    # A row that breaks in a way nobody foresaw fails alone, logged by type, marked on the row.
    real = linking.refresh
    secret = "message text or key 9911"

    def refresh(link):
        if link.id == bad_link.id:
            raise RuntimeError(secret)
        return real(link)
    monkeypatch.setattr(linking, "refresh", refresh)
    good_link = db.session.get(NumberLink, good_link.id)
    good_link.state = "unreachable"
    db.session.commit()
    with caplog.at_level(logging.ERROR):
        assert health.check_all() == 1
    assert db.session.get(NumberLink, good_link.id).state == "linked"
    assert "RuntimeError" in db.session.get(NumberLink, bad_link.id).last_error
    assert "RuntimeError" in caplog.text and secret not in caplog.text


def test_the_event_retry_sweep_goes_on_past_a_bad_gateway(app, demo, server, monkeypatch, caplog):
    from webapp.core.extensions import db
    from webapp.models import Gateway
    from webapp.whatsapp import gateways_service, health, inbox
    first = _old_row(demo, server)
    second = gateways_service.add_gateway(demo.acme.id, name="Good", base_url=server.url(), api_key="k")
    swept = []

    def retry(gateway_id, limit=500):
        if gateway_id == first.id:
            raise KeyError("secret-ish")
        swept.append(gateway_id)
        return 0
    monkeypatch.setattr(inbox, "retry_waiting", retry)
    with caplog.at_level(logging.ERROR):
        health.check_all()
    assert swept == [second.id]
    assert "KeyError" in db.session.get(Gateway, first.id).last_error
    assert "secret-ish" not in caplog.text


def test_reconciliation_goes_on_past_a_bad_link(app, demo, server, monkeypatch):
    from webapp.core.extensions import db
    from webapp.models import NumberLink
    from webapp.whatsapp import gateways_service, reconcile
    gateway = gateways_service.add_gateway(demo.acme.id, name="Good", base_url=server.url(), api_key="k")
    one = make_link(demo, gateway, session="one", email="member@acme.test")
    two = make_link(demo, gateway, session="two", email="owner@acme.test")
    monkeypatch.setattr(reconcile, "reconcile",
                        lambda link_id, reason: (_ for _ in ()).throw(ValueError("x")) if link_id == one.id
                        else {"stored": 0})
    results = reconcile.reconcile_all_now()
    assert results == {two.id: {"stored": 0}}
    assert "ValueError" in db.session.get(NumberLink, one.id).last_recovery_error


def test_the_sweeper_goes_on_past_a_bad_workspace(app, demo, monkeypatch):
    from tests.helpers.close_connection import add_messages
    from webapp.core.extensions import db
    from webapp.messages import scheduler, sweeper
    from webapp.models import Chat, Message, WhatsAppNumber, utcnow
    add_messages(demo, 1, state="queued")
    number = WhatsAppNumber(workspace_id=demo.globex.id, membership_id=demo.memberships["owner@globex.test"].id,
                            e164="+14155550177")
    db.session.add(number)
    db.session.flush()
    chat = Chat(workspace_id=demo.globex.id, whatsapp_number_id=number.id, external_id="chat-globex",
                remote_phone="+14155550178")
    db.session.add(chat)
    db.session.flush()
    db.session.add(Message(workspace_id=demo.globex.id, chat_id=chat.id, whatsapp_number_id=number.id,
                           external_id="wamid.globex.1", direction="incoming", sent_at=utcnow(), text="hi",
                           state="queued"))
    db.session.commit()
    kicked = []

    def kick(workspace_id):
        if workspace_id == demo.acme.id:
            raise RuntimeError("boom")
        kicked.append(workspace_id)
    monkeypatch.setattr(scheduler, "kick", kick)
    assert demo.globex.id in sweeper.sweep()
    assert kicked == [demo.globex.id]
