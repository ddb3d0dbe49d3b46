"""Log text search: the indexed search finds exactly what a case-insensitive substring search
(`ILIKE '%q%'`) finds, and any characters in the query are taken literally."""
import re

import pytest
import sqlalchemy as sa

from tests.helpers.messages import body, messages

TEXTS = [
    "Order #4521 shipped — tracking to follow",
    "Can we move the DEMO to Friday?",
    "100% sure: 50_off applies (code \"SPRING\")",
    'path C:\\temp\\x and a "quoted" word',
    "NEAR AND OR NOT * ^ : - +",
    "Ünïcödé café menu",
    "nothing special here",
]

QUERIES = [
    "order", "ORDER #45", "der #4", "demo to fri", "move", "100%", "50_off", "0_o", "\"SPRING\")",
    'C:\\temp', '"quoted" word', "AND OR", "NEAR", "* ^ :", "- +", "(code", "café", "é", "fé m",
    "%", "_", "\\", '"', "'", "xyz-not-there", "e", "sh", "ing to", "order #4521 shipped — tracking",
]


def _log_texts(client, q):
    html = client.get("/sync/log", query_string={"q": q}).get_data(as_text=True)
    return {t for t in TEXTS if _html(t) in html}


def _html(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") \
        .replace("'", "&#39;")


def _like_texts(q):
    """What users expect: the text contains q, ignoring (ASCII) case."""
    return {t for t in TEXTS if q.lower() in t.lower()}


@pytest.fixture
def logged(app, api, sandbox_connection, demo, login):
    assert api.post({"messages": [body(f"s-{i}", text=t, name=f"Chat {i}", phone=f"+1415555{i + 200:04d}")
                                  for i, t in enumerate(TEXTS)]},
                    path="/api/v1/messages/batch").status_code in (200, 202)
    return login("admin@acme.test")


def test_search_equals_substring_semantics(logged):
    for q in QUERIES:
        assert _log_texts(logged, q) == _like_texts(q), q


def test_search_follows_edits_and_deletes(app, logged):
    from webapp.core.extensions import db
    from webapp.models import Message
    target = next(m for m in messages() if m.text.startswith("Order #4521"))
    db.session.execute(sa.update(Message).where(Message.id == target.id).values(text="Refund issued"))
    db.session.commit()
    assert _log_texts(logged, "4521") == set()
    assert "Refund issued" in logged.get("/sync/log?q=refund").get_data(as_text=True)
    db.session.execute(sa.delete(Message).where(Message.id == target.id))
    db.session.commit()
    assert "Refund issued" not in logged.get("/sync/log?q=refund").get_data(as_text=True)


def test_search_keeps_the_other_filters_and_pages(app, api, logged, demo):
    api.post({"messages": [body(f"pg-{i}", text=f"invoice {i:03d}") for i in range(120)]},
             path="/api/v1/messages/batch")
    first = logged.get("/sync/log?q=INVOICE").get_data(as_text=True)
    assert "invoice 119" in first and "invoice 069" not in first and "Order #4521" not in first
    older = re.search(r'before=(\d+)', first).group(1)
    second = logged.get(f"/sync/log?q=invoice&before={older}").get_data(as_text=True)
    assert "invoice 069" in second and "invoice 119" not in second
    assert "invoice 1" not in logged.get("/sync/log?q=invoice&state=synced").get_data(as_text=True)
    assert "invoice 005" in logged.get("/sync/log?q=pg-5").get_data(as_text=True)   # message id
    assert "DEMO to Friday" in logged.get("/sync/log?q=chat 1").get_data(as_text=True)  # chat name


def test_other_workspace_rows_never_match(app, logged, demo, login):
    globex = login("owner@globex.test")
    assert "Order #4521" not in globex.get("/sync/log?q=order").get_data(as_text=True)


def test_a_short_query_searches_the_newest_texts_and_says_so(logged, monkeypatch):
    """Under 3 characters there is no trigram index: the text part scans only the newest rows
    (here 3 of the 7), and the page tells the user how to search everything."""
    from webapp.messages import search
    monkeypatch.setattr(search, "SHORT_QUERY_ROWS", 3)
    html = logged.get("/sync/log", query_string={"q": "é"}).get_data(as_text=True)
    assert 'id="search-short"' in html and "newest 3 messages" in html
    assert _html("Ünïcödé café menu") in html            # the 6th of 7 texts: among the newest 3
    assert _html("Order #4521 shipped — tracking to follow") not in logged.get(
        "/sync/log", query_string={"q": "#4"}).get_data(as_text=True)   # the oldest: not scanned
    full = logged.get("/sync/log", query_string={"q": "#45"}).get_data(as_text=True)
    assert _html("Order #4521 shipped — tracking to follow") in full and 'id="search-short"' not in full
