"""Sync status: the log's search lives in the URL; the log is marked to stack on small screens."""
from tests.helpers.outcomes import add_outcomes
from tests.helpers.web import text_of


def test_search_in_the_url_renders_the_filtered_log(demo, login):
    add_outcomes(demo, [("synced", 0)])
    add_outcomes(demo, [("skipped", 0), ("skipped", 0)], remote="+14155550102", reason="group chat")
    page = login("admin@acme.test").get("/sync/?q=message+1&state=skipped")
    html = text_of(page)
    assert 'value="message 1"' in html and '<option value="skipped" selected>' in html
    rows = html.count('class="sync-row"')
    assert rows == 1 and 'data-state="skipped"' in html


def test_filter_form_pushes_its_url_and_the_log_stacks_on_phones(demo, login):
    html = text_of(login("member@acme.test").get("/sync/"))
    assert 'id="sync-filter"' in html and 'method="get" action="/sync/"' in html
    assert 'hx-push-url="true"' in html and 'hx-select="#sync-log"' in html
    assert 'placeholder="Search text, name, phone or id"' in html
    assert 'class="table table-sm align-middle table-stack" id="sync-log-table"' in html
