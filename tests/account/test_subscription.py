"""The subscription page: the owner's alone; what is paused, how much is held and who to contact,
never an operator command; the paused banner's "renew" leads to that page, which adds to it."""
import pytest

from tests.helpers.outcomes import add_outcomes
from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.messages.states import HOLD_SUBSCRIPTION


def test_subscription_page_is_owner_only(demo, login):
    page = login("owner@acme.test").get("/subscription")
    assert page.status_code == 200 and b"active" in page.data
    assert login("admin@acme.test").get("/subscription").status_code == 403


@pytest.fixture
def paused(app, demo, fake_connection):
    demo.acme.set_subscription("past_due")
    db.session.commit()
    add_outcomes(demo, [("held", 0)] * 3, reason=HOLD_SUBSCRIPTION)
    return fake_connection


def test_paused_page_says_what_is_paused_what_is_held_and_who_to_contact(app, paused, login):
    app.config["SUPPORT_CONTACT"] = "billing@closeline.example"
    page = text_of(login("owner@acme.test").get("/subscription"))
    assert "Sync to Close is paused because the subscription payment is past due." in page
    assert "Nothing is sent to Close: no WhatsApp activities, no new leads, no test sync." in page
    assert "<strong>3 messages</strong> are held so far" in page
    assert "The Close connection to Acme Sales and its settings are kept." in page
    assert "After renewal the held messages sync to Close in the order they arrived, by themselves." in page
    assert 'Contact <a href="mailto:billing@closeline.example">billing@closeline.example</a> to renew it' in page
    assert "flask" not in page and "subscription set" not in page  # operator commands stay in the README
    # The page does not send the owner back to itself.
    assert 'href="/subscription"' not in page.split('id="subscription-paused"', 1)[1]


def test_catch_up_off_and_other_contacts_are_said_as_they_are(app, paused, login):
    paused.catch_up_held = False
    db.session.commit()
    app.config["SUPPORT_CONTACT"] = "https://closeline.example/billing"
    page = text_of(login("owner@acme.test").get("/subscription"))
    assert "the held messages stay held, because “Catch up messages held while the subscription was" in page
    assert 'Contact <a href="https://closeline.example/billing">https://closeline.example/billing</a>' in page
    app.config["SUPPORT_CONTACT"] = ""
    page = text_of(login("owner@acme.test").get("/subscription"))
    assert "Subscriptions are managed by whoever runs this Closeline for your team" in page


def test_banner_renew_leads_to_the_contact(app, paused, login):
    app.config["SUPPORT_CONTACT"] = "Ana at Acme IT, +1 415 555 0100"
    owner = text_of(login("owner@acme.test").get("/dashboard"))
    assert "To renew, contact Ana at Acme IT, +1 415 555 0100" in owner
    assert '<a href="/subscription" class="alert-link">what is paused and held</a>' in owner
    page = text_of(login("owner@acme.test").get("/subscription"))
    assert "Contact Ana at Acme IT, +1 415 555 0100 to renew it" in page and "3 messages" in page
