"""Fault tests (bounded in time), real RQ workers, real Redis, the sandbox over real HTTP:
worker SIGKILLed mid-run, responses lost after the write, 5xx storms, 1,000 replays."""
import threading

import pytest

from tests.helpers.messages import activities, body, exactly_once, messages, settle
from tests.helpers.waiting import wait_for

PHONES = ["+14155550101", "+14155550102", "+14155550103", "+442079460958", "+14155550150", "+14155550151"]


def _post_many(api, count, prefix):
    items = [body(f"{prefix}-{i}", phone=PHONES[i % len(PHONES)], name=f"P{i % len(PHONES)}",
                  number=f"+1415555000{1 + i % 3}") for i in range(count)]
    for start in range(0, count, 100):
        response = api.post({"messages": items[start:start + 100]}, path="/api/v1/messages/batch")
        assert response.status_code == 202
    return [i["message"]["id"] for i in items]


@pytest.mark.timeout(600)
def test_worker_killed_mid_run_loses_and_doubles_nothing(app, api, sandbox_connection, close_sandbox, workers):
    close_sandbox.control("PUT", "/_sandbox/faults", {"latency_ms": 15})
    first = workers.start()
    ids = _post_many(api, 200, "kill")
    wait_for(lambda: sum(m.state == "synced" for m in messages()) >= 40, timeout=120, message="sync under way")
    workers.kill(first)
    done = sum(m.state == "synced" for m in messages())
    assert done < 200, "the run finished before the kill; make it slower"
    workers.start()
    rows = settle(ids, timeout=300)
    leads = exactly_once(close_sandbox, ids)
    assert len({m.close_activity_id for m in rows}) == 200
    assert len(leads) <= 2  # the two new customers: one lead each, even across the crash


@pytest.mark.timeout(600)
def test_lost_responses_make_no_duplicates(app, api, sandbox_connection, close_sandbox, workers):
    close_sandbox.control("PUT", "/_sandbox/faults", {"response_lost_rate": 0.1, "seed": 7})
    workers.start()
    ids = _post_many(api, 150, "lost")
    settle(ids, timeout=300)
    faults = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"] if r["fault"] == "response_lost"]
    assert faults, "no response was lost; the test proves nothing"
    leads = exactly_once(close_sandbox, ids)
    assert len(leads) == 2


@pytest.mark.timeout(600)
def test_5xx_storm_syncs_everything_without_disconnecting(app, api, sandbox_connection, close_sandbox, workers):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 0.2, "error_statuses": [500, 502, 503, 504],
                                                     "seed": 11})
    workers.start()
    ids = _post_many(api, 150, "storm")
    settle(ids, timeout=300)
    exactly_once(close_sandbox, ids)
    db.session.expire_all()
    assert db.session.get(CloseConnection, sandbox_connection.id).disconnected_at is None


@pytest.mark.timeout(600)
def test_a_thousand_replays_one_row_one_activity(app, api, sandbox_connection, close_sandbox, workers):
    workers.start()
    payload = body("replayed", phone="+14155550101")
    statuses = []

    def replay(n):
        client = app.test_client()
        for _ in range(n):
            statuses.append(client.post("/api/v1/messages", json=payload,
                                        headers={"Authorization": f"Bearer {api.key}"}).status_code)

    threads = [threading.Thread(target=replay, args=(125,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 1000 and statuses.count(202) == 1 and statuses.count(200) == 999
    settle(["replayed"], timeout=120)
    assert len(messages()) == 1 and len(activities(close_sandbox, "replayed")) == 1


def _requests_to_close(close_sandbox):
    return [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"] if r["path"].startswith("/api/v1/")]


@pytest.mark.timeout(600)
def test_close_down_one_probe_per_connection_then_everything_drains(app, api, sandbox_connection, close_sandbox,
                                                                     workers):
    """While Close does not answer, new messages cost no Close call and no attempt each: the worker
    only probes Close (one call per drain of the connection). Once Close is back, all of them go, once."""
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    app.config["SYNC_PROBE_CAP"] = 1.0
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503})
    workers.start()
    ids = _post_many(api, 30, "down")

    def probes():
        return [r for r in _requests_to_close(close_sandbox) if r["path"] == "/api/v1/me/"]

    wait_for(lambda: len(probes()) >= 2, timeout=120, message="the worker probing Close")
    tried = [r for r in _requests_to_close(close_sandbox) if r["path"] != "/api/v1/me/"]
    for i in range(30):  # one by one: each ingest kicks the drain
        message_id = f"down-later-{i}"
        assert api.post(body(message_id, phone=PHONES[i % len(PHONES)], name=f"P{i % len(PHONES)}")).status_code == 202
        ids.append(message_id)
    seen = len(probes())
    wait_for(lambda: len(probes()) >= seen + 2, timeout=120, message="more probes")
    assert [r for r in _requests_to_close(close_sandbox) if r["path"] != "/api/v1/me/"] == tried
    later = messages()[30:]
    assert {(m.state, m.attempts) for m in later} == {("queued", 0)}
    db.session.expire_all()
    assert db.session.get(CloseConnection, sandbox_connection.id).unreachable_since is not None
    close_sandbox.control("DELETE", "/_sandbox/faults")
    settle(ids, timeout=300)
    exactly_once(close_sandbox, ids)
    db.session.expire_all()
    assert db.session.get(CloseConnection, sandbox_connection.id).unreachable_since is None
