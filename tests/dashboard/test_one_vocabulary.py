"""The dashboard and the Close card speak the one state vocabulary (core/vocabulary.py): a number's
Health is the worst of its gateway link, Close and its messages, and both screens name Close's
state with the same words."""
import re
from datetime import timedelta

from tests.helpers.outcomes import add_outcomes
from tests.helpers.whatsapp import make_link
from webapp.core import vocabulary
from webapp.core.extensions import db
from webapp.models import Gateway, utcnow


def _link(demo, state):
    gateway = Gateway(workspace_id=demo.acme.id, kind="waha", name="Office WAHA", base_url="http://waha.test:3000")
    db.session.add(gateway)
    db.session.commit()
    link = make_link(demo, gateway, session="olivia", email="owner@acme.test")
    link.state, link.state_since = state, utcnow()
    db.session.commit()


def _row(page, e164):
    return re.search(rf'<tr data-number="\{e164}">(.*?)</tr>', page, re.S).group(1)


def test_a_logged_out_number_shows_no_syncing_on_the_dashboard(app, demo, login, fake_connection):
    add_outcomes(demo, [("synced", 1)])
    demo.memberships["owner@acme.test"].numbers[0].last_synced_at = utcnow() - timedelta(hours=1)
    _link(demo, "failed")
    row = _row(login("owner@acme.test").get("/dashboard").get_data(as_text=True), "+14155550001")
    health = re.search(r'number-health">([^<]*)<', row).group(1)
    assert health == "failed (needs relinking)" and "syncing" not in row


def test_no_number_says_syncing_while_close_is_disconnected_automatically(app, demo, login, fake_connection):
    demo.memberships["owner@acme.test"].numbers[0].last_synced_at = utcnow()
    fake_connection.disconnected_at, fake_connection.disconnect_reason = utcnow(), "revoked"
    db.session.commit()
    owner = login("owner@acme.test")
    page = owner.get("/dashboard").get_data(as_text=True)
    assert "syncing" not in re.search(r'id="dashboard-numbers".*', page, re.S).group(0)
    assert re.search(r'number-health">disconnected automatically<', page)
    # the dashboard's Close badge and the card's badge say the same words
    dashboard_badge = re.search(r'id="dashboard-close-state">([^<]*)<', page).group(1)
    card_badge = re.search(r'id="close-state"[^>]*>([^<]*)<', owner.get("/integrations/close/").get_data(as_text=True))
    assert dashboard_badge == card_badge.group(1) == vocabulary.CLOSE["auto_disconnected"].label


def test_unreachable_close_is_called_the_same_on_dashboard_and_card(app, demo, login, fake_connection):
    fake_connection.unreachable_since = utcnow()
    db.session.commit()
    owner = login("owner@acme.test")
    dashboard_badge = re.search(r'id="dashboard-close-state">([^<]*)<', owner.get("/dashboard").get_data(as_text=True))
    card_badge = re.search(r'id="close-state"[^>]*>([^<]*)<', owner.get("/integrations/close/").get_data(as_text=True))
    assert dashboard_badge.group(1) == card_badge.group(1) == "needs attention"
