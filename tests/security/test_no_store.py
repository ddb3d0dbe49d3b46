"""Pages and fragments showing message text (the sync log, its fragments, the dashboard) are sent with
`Cache-Control: no-store`, so no browser or proxy cache keeps a copy; static files may be cached."""
import pytest

from tests.helpers.close_connection import add_messages


@pytest.mark.parametrize("path,htmx", [("/sync/", False), ("/sync/log", True), ("/sync/totals", True),
                                       ("/", False), ("/privacy/", False), ("/whatsapp/", False)])
def test_signed_in_pages_and_fragments_are_not_stored(app, demo, login, path, htmx):
    add_messages(demo, 2, state="synced")
    browser = login("owner@acme.test")
    response = browser.get(path, headers={"HX-Request": "true"} if htmx else {}, follow_redirects=True)
    assert response.status_code == 200, path
    assert "no-store" in response.headers.get("Cache-Control", ""), path


def test_the_log_shows_text_and_is_not_stored(app, demo, login):
    add_messages(demo, 1, state="synced")
    response = login("owner@acme.test").get("/sync/")
    assert "hello 0" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(app):
    response = app.test_client().get("/static/js/app.js")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
