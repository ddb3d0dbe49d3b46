"""API keys: created by POST-redirect-GET, the secret shown once, revoke confirmed with a flash; readable docs."""
import re

import sqlalchemy as sa

from tests.helpers.rows import count
from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.models import ApiKey


def _keys():
    db.session.expire_all()
    return db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)).all()


def test_reloading_the_shown_once_page_creates_no_second_key(demo, login):
    admin = login("admin@acme.test")
    created = admin.post("/settings/api-keys", data={"name": "bridge"})
    assert created.status_code == 303 and created.headers["Location"].endswith("/settings/api-keys")
    first = admin.get("/settings/api-keys")
    secret = re.search(r"(cl_[\w-]{20,})", first.get_data(as_text=True)).group(1)
    assert first.headers["Cache-Control"] == "no-store"
    assert "API key “bridge” created" in text_of(first)
    again = admin.get("/settings/api-keys")  # the reload
    assert secret not in again.get_data(as_text=True)
    [row] = _keys()
    assert ApiKey.find_active(secret).id == row.id
    assert row.secret_once_enc is None and secret not in (row.key_hash or "")


def test_the_secret_is_stored_encrypted_until_shown(demo, login):
    admin = login("admin@acme.test")
    admin.post("/settings/api-keys", data={"name": "bridge"})
    [row] = _keys()
    assert row.secret_once_enc and "cl_" not in row.secret_once_enc
    # Another workspace's owner cannot reveal it (their session has no pending reveal; ids don't leak).
    other = login("owner@globex.test").get("/settings/api-keys")
    assert "cl_" not in other.get_data(as_text=True)


def test_revoke_asks_first_and_confirms_with_a_flash(demo, login):
    admin = login("admin@acme.test")
    admin.post("/settings/api-keys", data={"name": "bridge"})
    page = text_of(admin.get("/settings/api-keys"))
    assert 'data-confirm="Revoke the API key “bridge”' in page
    [row] = _keys()
    response = admin.post(f"/settings/api-keys/{row.id}/revoke", follow_redirects=True)
    assert "API key “bridge” (" in text_of(response) and "revoked" in text_of(response)
    assert _keys()[0].revoked_at is not None
    again = admin.post(f"/settings/api-keys/{row.id}/revoke", follow_redirects=True)
    assert "was already revoked" in text_of(again)


def test_api_docs_render_operations_parameters_and_schemas(app, login):
    page = text_of(app.test_client().get("/api/docs"))
    assert "POST" in page and "/api/v1/messages/batch" in page
    assert "message_id" in page and "path" in page  # a path parameter
    assert 'id="schema-IncomingMessage"' in page and "chat.phone" in page and "one of incoming, outgoing" in page
    assert 'href="#schema-MessageRecord"' in page  # responses link their schema


def test_api_keys_page_links_the_docs(demo, login):
    page = text_of(login("admin@acme.test").get("/settings/api-keys"))
    assert 'href="/api/docs"' in page and 'href="/api/openapi.json"' in page


def test_api_key_is_shown_once_and_stored_hashed(demo, login):
    admin = login("admin@acme.test")
    response = admin.post("/settings/api-keys", data={"name": "bridge"})
    assert response.status_code == 303  # POST-redirect-GET: a reload never creates a second key
    shown = admin.get(response.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    key = re.search(r"(cl_[\w-]{20,})", shown.get_data(as_text=True)).group(1)
    row = db.session.scalar(sa.select(ApiKey))
    assert row.key_hash != key and key not in row.key_hash and row.prefix == key[:10]
    assert ApiKey.find_active(key).id == row.id and row.secret_once_enc is None
    assert key not in admin.get("/settings/api-keys").get_data(as_text=True)
    empty = admin.post("/settings/api-keys", data={"name": ""})
    assert empty.status_code == 400 and count(ApiKey) == 1
