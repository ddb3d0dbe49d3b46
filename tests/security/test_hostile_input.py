"""Hostile input that used to end in a 500: ids above what an id column holds (INTEGER; 2^63 and more
included) in any `<int:...>` path and
in the id fields of queries and forms (404 / 400 on SQLite and PostgreSQL alike), and NUL characters
in a signed gateway webhook's envelope (stored without them, never sent to the database)."""
import re

import pytest
import sqlalchemy as sa

from tests.helpers.whatsapp import envelope, make_link, post_hook, text_message

HUGE = str(2**63)          # one more than BIGINT's largest
HUGER = "9" * 40
JUST_ABOVE = str(2**31)    # one more than INTEGER's largest (PostgreSQL's id columns)


def _int_rules(app):
    from werkzeug.routing import IntegerConverter
    return [rule for rule in app.url_map.iter_rules()
            if any(isinstance(conv, IntegerConverter) for conv in rule._converters.values())]


def _url(rule, number):
    path = re.sub(r"<int:[^>]+>", number, rule.rule)
    return re.sub(r"<(?:[a-z]+:)?([^>]+)>", "waha", path)


@pytest.mark.parametrize("number", [HUGE, HUGER, JUST_ABOVE])
def test_every_int_path_answers_404_for_an_id_no_database_holds(app, demo, login, number):
    browser = login("owner@acme.test")
    rules = _int_rules(app)
    assert len(rules) >= 30
    for rule in rules:
        url = _url(rule, number)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = browser.get(url)
            else:
                response = browser.post(url, data={}) if method == "POST" else \
                    browser.client.open(url, method=method)
            # 404; 405 where another route has this path for another method. Never a 500.
            assert response.status_code in (404, 405), (method, url, response.status_code)


def test_the_largest_id_a_column_holds_is_still_a_plain_404(app, demo, login):
    browser = login("owner@acme.test")
    assert browser.get(f"/whatsapp/links/{2**31 - 1}").status_code == 404


@pytest.mark.parametrize("field", ["before", "number", "chat"])
@pytest.mark.parametrize("number", [HUGE, HUGER, "-" + HUGER, JUST_ABOVE])
def test_the_sync_log_refuses_a_huge_cursor_or_filter(app, demo, login, field, number):
    browser = login("owner@acme.test")
    response = browser.get(f"/sync/?{field}={number}")
    assert response.status_code == 400
    assert "too large to be an id" in response.get_data(as_text=True)


def test_a_small_cursor_still_works(app, demo, login):
    browser = login("owner@acme.test")
    assert browser.get("/sync/?before=5&number=1&chat=2").status_code == 200


@pytest.mark.parametrize("number", [HUGE, HUGER])
def test_a_history_dry_run_with_a_huge_number_id_is_refused(app, demo, login, number):
    browser = login("owner@acme.test")
    assert browser.get(f"/history/?number={number}").status_code == 400
    assert browser.post("/history/dry-run", data={"number_id": number, "scope": "all"}).status_code == 400


def test_the_helper_for_query_ints(app):
    from webapp.core.input_guard import db_int
    assert db_int("42") == 42 and db_int(str(2**31 - 1)) == 2**31 - 1
    for number in (HUGE, JUST_ABOVE, "-" + HUGE):
        with pytest.raises(ValueError):
            db_int(number)
    with app.test_request_context(f"/?before={HUGE}"):
        from flask import request
        assert request.args.get("before", type=db_int) is None


@pytest.fixture
def hooked(app, demo, monkeypatch):
    from webapp.core import outbound
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    from webapp.whatsapp import gateways_service
    gateway = gateways_service.add_gateway(demo.acme.id, name="Office WAHA", base_url="http://waha.test:3000",
                                           api_key="waha-key")
    make_link(demo, gateway)
    return gateway


@pytest.mark.parametrize("where", ["event", "session", "id", "payload"])
def test_nul_in_a_signed_webhook_envelope_is_never_stored(app, demo, hooked, where):
    from webapp.core.extensions import db
    from webapp.models import GatewayEvent
    body = envelope("message", text_message(body="Hi"))
    if where == "event":
        body["event"] = "mess\x00age"
    elif where == "session":
        body["session"] = "mi\x00a"
    elif where == "id":
        body["id"] = body["id"] + "\x00"
    else:
        body["payload"]["body"] = "Hi\x00 there"
        body["payload"]["_data"] = {"pushName\x00": "Ma\x00ria"}
    response = post_hook(app.test_client(), hooked.id, body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    for row in db.session.scalars(sa.select(GatewayEvent)):
        stored = repr([row.event, row.session_name, row.dedupe_key, row.payload, row.reason])
        assert "\x00" not in stored and "\\x00" not in stored and "\\u0000" not in stored


def test_a_signed_envelope_with_nul_in_its_session_still_finds_its_number(app, demo, hooked):
    from webapp.core.extensions import db
    from webapp.models import GatewayEvent
    body = envelope("message", text_message(body="Hi"), session="mi\x00a")
    assert post_hook(app.test_client(), hooked.id, body).status_code == 200
    assert db.session.scalar(sa.select(GatewayEvent.session_name)) == "mia"


def test_scrub_cleans_keys_and_strings_without_recursion():
    from webapp.core.input_guard import scrub
    deep = current = {}
    for _ in range(5000):
        current["a\x00"] = current = {}
    cleaned = scrub({"x": ["a\x00b", {"k\x00": "\ud800v"}], "deep": deep})
    assert cleaned["x"] == ["ab", {"k": "v"}]
    node = cleaned["deep"]
    for _ in range(5000):
        node = node["a"]
