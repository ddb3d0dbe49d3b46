"""Live pages: the watcher asks whether the log changed, backs off while it is quiet, and fires
`syncChanged` (the log, the totals and the dashboard reload on it) as soon as something moved."""
import re

from tests.helpers.messages import body, messages
from webapp.messages import changes


def _watcher(html):
    """(url, delay) of the page's watcher element."""
    found = re.search(r'id="sync-watch"[^>]*hx-get="([^"]+)"\s+hx-trigger="load delay:(\d+)s"', html)
    assert found, "no watcher on the page"
    return found.group(1).replace("&amp;", "&"), int(found.group(2))


def test_the_watcher_backs_off_while_quiet_and_fires_on_a_new_message(app, api, sandbox_connection, demo, login):
    admin = login("admin@acme.test")
    url, delay = _watcher(admin.get("/sync/").get_data(as_text=True))
    assert delay == changes.POLL_STEPS[0]
    delays = []
    for _ in range(len(changes.POLL_STEPS) + 1):  # nothing happens: each poll waits longer, up to the last step
        answer = admin.get(url, headers={"HX-Request": "true"})
        assert answer.status_code == 200 and "HX-Trigger" not in answer.headers
        url, delay = _watcher(answer.get_data(as_text=True))
        delays.append(delay)
    assert delays == sorted(delays) and delays[-1] == changes.POLL_STEPS[-1] and delays[0] > changes.POLL_STEPS[0]

    api.post(body("live-1", phone="+14155550101", text="a new message"))
    answer = admin.get(url, headers={"HX-Request": "true"})
    assert answer.headers.get("HX-Trigger") == "syncChanged"
    url, delay = _watcher(answer.get_data(as_text=True))
    assert delay == changes.POLL_STEPS[0]  # quick again after a change
    assert "HX-Trigger" not in admin.get(url, headers={"HX-Request": "true"}).headers  # and quiet once seen


def test_a_state_change_fires_too(app, api, sandbox_connection, close_sandbox, demo, login, drain_now):
    api.post(body("live-2", phone="+14155550101", text="waiting"))
    admin = login("admin@acme.test")
    url, _ = _watcher(admin.get("/sync/").get_data(as_text=True))
    drain_now(demo.acme.id)  # queued → synced: same row, new state
    assert [m.state for m in messages()] == ["synced"]
    assert admin.get(url, headers={"HX-Request": "true"}).headers.get("HX-Trigger") == "syncChanged"


def test_a_member_is_not_told_about_a_teammates_messages(app, api, sandbox_connection, demo, login):
    member = login("member@acme.test")  # owns +14155550003 only
    url, _ = _watcher(member.get("/sync/").get_data(as_text=True))
    api.post(body("mate-1", number="+14155550001", phone="+14155550102", text="a teammate's customer"))
    assert "HX-Trigger" not in member.get(url, headers={"HX-Request": "true"}).headers
    api.post(body("own-1", number="+14155550003", phone="+14155550101", text="my customer"))
    assert member.get(url, headers={"HX-Request": "true"}).headers.get("HX-Trigger") == "syncChanged"


def test_the_dashboard_reloads_its_counters_chart_and_numbers_on_a_change(app, demo, login):
    html = login("owner@acme.test").get("/dashboard").get_data(as_text=True)
    live = html.split('id="dashboard-live"')[1]
    assert 'hx-trigger="syncChanged from:body"' in live[:300] and 'hx-select="#dashboard-live"' in live[:300]
    for part in ('id="dashboard-totals"', 'id="hourly-chart"', 'id="dashboard-numbers"'):
        assert part in live
    _watcher(html)
