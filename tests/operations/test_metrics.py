"""/metrics as Prometheus scrapes it: off without a token, refused with a wrong one, and counters
that move as messages flow through a real worker process into the Close sandbox (counted in the
worker, read by the web: one Redis hash for every process)."""
import collections

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.messages import body, settle

TOKEN = "metrics-test-token"


def scrape(app, token=TOKEN):
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def test_metrics_are_off_without_a_token(app):
    from webapp import create_app
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI")}
    off = create_app("testing", dict(config, METRICS_TOKEN=""))
    assert off.test_client().get("/metrics").status_code == 404
    assert off.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_a_missing_or_wrong_token_is_refused(app):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"closeline_" not in response.data


def test_every_family_is_there_before_anything_happened(app, demo):
    samples = scrape(app)
    for name in ("closeline_close_calls_total", "closeline_close_rate_limited_total",
                 "closeline_close_token_refreshes_total", "closeline_close_auto_disconnects_total",
                 "closeline_messages_drained_total", "closeline_gap_messages_found_total",
                 "closeline_gap_messages_filled_total", "closeline_close_call_seconds_count"):
        assert total(samples, name) == 0.0, name
    assert value(samples, "closeline_close_call_seconds_count") == 0.0
    assert value(samples, "closeline_queue_depth", queue=app.config["RQ_QUEUE"]) == 0.0
    assert value(samples, "closeline_workers", queue=app.config["RQ_QUEUE"]) == 0.0


def test_counters_move_as_messages_flow_through_a_worker(app, close_sandbox, sandbox_connection, api, worker):
    # Close answers some calls 429 (the limiter waits and retries them): every call is counted.
    # (Seed 1 draws below 0.5 first: the first activity call is refused.)
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 0.5, "error_status": 429, "seed": 1,
                                                      "paths": ["/api/v1/activity/whatsapp_message/"]})
    posted = [body(phone=f"+1415555020{i}", text=f"hello {i}") for i in range(4)]
    for payload in posted:
        assert api.post(payload).status_code in (200, 201, 202)
    settle([p["message"]["id"] for p in posted], timeout=120)
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 0.0})

    samples = scrape(app)
    received = close_sandbox.control("GET", "/_sandbox/requests")["data"]
    api_calls = [r for r in received if r["path"].startswith("/api/v1/")]
    statuses = collections.Counter(r["status"] for r in api_calls)
    assert statuses[429] > 0, "Close answered no 429: the test proves nothing"

    workspace = str(sandbox_connection.workspace_id)
    assert value(samples, "closeline_messages", workspace=workspace, state="synced") == 4
    assert value(samples, "closeline_messages", workspace=workspace, state="queued") == 0
    assert value(samples, "closeline_outbox_oldest_queued_age_seconds", workspace=workspace) == 0
    assert value(samples, "closeline_messages_drained_total", state="synced") == 4
    assert total(samples, "closeline_close_calls_total") == len(api_calls)
    assert value(samples, "closeline_close_rate_limited_total") == statuses[429]
    assert value(samples, "closeline_close_calls_total", outcome="rate_limited") == statuses[429]
    assert value(samples, "closeline_close_calls_total", outcome="ok") == sum(
        n for status, n in statuses.items() if 200 <= status < 300)
    assert value(samples, "closeline_close_call_seconds_count") == len(api_calls)
    assert value(samples, "closeline_close_call_seconds_bucket", le="+Inf") == len(api_calls)
    assert value(samples, "closeline_workers", queue=app.config["RQ_QUEUE"]) == 1


def test_a_waiting_message_shows_its_age_and_queue_depth(app, sandbox_connection, api):
    # No worker runs: the message waits in the outbox and its drain job in the queue.
    assert api.post(body(text="waiting")).status_code in (200, 201, 202)
    samples = scrape(app)
    workspace = str(sandbox_connection.workspace_id)
    assert value(samples, "closeline_messages", workspace=workspace, state="queued") == 1
    assert value(samples, "closeline_outbox_oldest_queued_age_seconds", workspace=workspace) >= 0
    assert ("closeline_outbox_oldest_queued_age_seconds", (("workspace", workspace),)) in samples
    assert value(samples, "closeline_queue_depth", queue=app.config["RQ_QUEUE"]) >= 1


def test_workspace_labels_can_be_summed_away(app, sandbox_connection, api):
    from webapp import create_app
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI")}
    summed = create_app("testing", dict(config, METRICS_TOKEN=TOKEN, METRICS_WORKSPACE_LABELS=False))
    assert api.post(body(text="waiting")).status_code in (200, 201, 202)
    samples = scrape(summed)
    assert value(samples, "closeline_messages", state="queued") == 1
    assert value(samples, "closeline_messages", state="synced") == 0
    assert not [key for key in samples if dict(key[1]).get("workspace")]
