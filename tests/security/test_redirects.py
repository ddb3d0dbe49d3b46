"""Where a form may send the browser next (`next`), only paths of this site are followed: browsers
read a backslash as a slash and drop tabs, so those spellings of another site are refused too."""
import pytest

from tests.helpers.messages import body

LEAVING = ["https://evil.test/", "//evil.test/", "/\\evil.test/", "/\t/evil.test/", "/\n/evil.test/",
           "javascript:alert(1)"]


@pytest.mark.parametrize("target", LEAVING)
def test_sign_in_never_sends_the_browser_to_another_site(demo, browser, target):
    response = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "closeline-demo",
                                                        "csrf_token": browser.csrf(), "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"


def test_sign_in_follows_a_path_of_this_site(demo, browser):
    response = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "closeline-demo",
                                                        "csrf_token": browser.csrf(), "next": "/sync/?state=failed"})
    assert response.headers["Location"] == "/sync/?state=failed"


@pytest.mark.parametrize("target", LEAVING)
def test_never_sync_this_chat_returns_to_this_site_only(app, api, demo, login, target):
    from webapp.core.extensions import db
    from webapp.models import Chat
    api.post(body("mine", number="+14155550003", phone="+14155550101"))
    chat = db.session.scalars(db.select(Chat)).one()
    response = login("member@acme.test").post(f"/privacy/chats/{chat.id}/exclude", data={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/privacy/"
    db.session.expire_all()
    assert db.session.get(Chat, chat.id).excluded_at is not None  # the exclusion itself happened
