"""Every error answer: a page for people, one JSON shape {"error", "message"} under /api/, and a 500
that names nothing of what was sent."""
import logging

import pytest


@pytest.fixture
def app_overrides():
    return {"PROPAGATE_EXCEPTIONS": False}   # answer unhandled errors as production does


def _boom(*args, **kwargs):
    raise RuntimeError("-".join(("secret", "canary", "482918")))   # the text a log must not show


@pytest.mark.parametrize("method, url, status, code", [
    ("GET", "/api/nowhere", 404, "not_found"),
    ("DELETE", "/api/openapi.json", 405, "method_not_allowed"),
    ("GET", "/api/v1/messages/1", 401, "unauthorized"),
])
def test_api_errors_are_json_with_a_code_and_a_message(app, method, url, status, code):
    response = app.test_client().open(url, method=method)
    assert response.status_code == status and response.is_json
    assert set(response.get_json()) == {"error", "message"}
    assert response.get_json()["error"] == code and response.get_json()["message"]


def test_pages_answer_errors_with_a_page(app, login, demo):
    owner = login("owner@acme.test")
    missing = owner.get("/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.content_type and "Not found." in missing.get_data(as_text=True)
    fragment = owner.get("/no-such-page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and "<html" not in fragment.get_data(as_text=True).lower()


def test_an_unhandled_error_is_a_500_page_or_json_and_the_log_names_only_its_type(app, login, demo, caplog):
    app.view_functions["main.dashboard"] = _boom
    app.view_functions["api.openapi"] = _boom
    owner = login("owner@acme.test")
    with caplog.at_level(logging.ERROR, logger="webapp.core.errors"):
        page = owner.get("/dashboard")
        api = app.test_client().get("/api/openapi.json")
    assert page.status_code == 500 and "Something went wrong on our side" in page.get_data(as_text=True)
    assert api.status_code == 500 and api.get_json()["error"] == "internal_error"
    assert "RuntimeError" in caplog.text and "secret-canary" not in caplog.text
    assert "secret-canary" not in page.get_data(as_text=True) + api.get_data(as_text=True)
