"""Rate limits, injected faults and the request log."""
import math
import time

from close_sandbox import world as seeded
from tests.helpers.close_sandbox import DANA_SALES_KEY, REP_SALES_KEY, SALES, Api, wa_body


def test_rate_limit_429_with_retry_after_and_lowercase_header(sb, dana):
    sb.control("PUT", "rate-limits", {"group": "activity", "limit": 3, "window": 5})
    remaining = []
    for _ in range(3):
        resp = dana.get("/activity/whatsapp_message/")
        assert resp.status_code == 200
        assert "ratelimit" in list(resp.raw.headers.keys())  # lower-case on the wire
        remaining.append(int(resp.headers["ratelimit"].split("remaining=")[1].split(",")[0]))
    assert remaining == [2, 1, 0]
    resp = dana.get("/activity/whatsapp_message/")
    assert resp.status_code == 429
    header = resp.headers["ratelimit"]
    reset = float(header.split("reset=")[1])
    assert header.startswith("limit=3, remaining=0, reset=") and 0 < reset <= 5
    assert int(resp.headers["Retry-After"]) == math.ceil(reset)
    err = resp.json()["error"]
    assert err["rate_limit_type"] == "key" and err["rate_limit"] == 3 and err["rate_window"] == 5
    # other groups and other credentials have their own buckets
    assert dana.get("/lead/").status_code == 200
    assert Api(dana.session, sb, key=REP_SALES_KEY).get("/activity/whatsapp_message/").status_code == 200


def test_organization_layer_is_three_times_the_key_limit(sb, http):
    sb.control("PUT", "rate-limits", {"group": "lead", "limit": 2, "window": 30})
    keys = [DANA_SALES_KEY, REP_SALES_KEY,
            sb.control("POST", "api-keys", {"email": "mia@acme.test", "organization_name": "Acme Sales"})["key"]]
    for key in keys:
        for _ in range(2):
            assert Api(http, sb, key=key).get("/lead/").status_code == 200
    extra = sb.control("POST", "api-keys", {"email": "dana@acme.test", "organization_id": SALES})["key"]
    resp = Api(http, sb, key=extra).get("/lead/")
    assert resp.status_code == 429 and resp.json()["error"]["rate_limit_type"] == "organization"
    assert resp.headers["ratelimit"].startswith("limit=6, remaining=0")
    # another org is not affected
    assert Api(http, sb, key="api_demo_dana_acme_support").get("/lead/").status_code == 200


def test_error_faults_only_configured_statuses_at_the_configured_rate(sb, dana):
    sb.control("PUT", "faults", {"error_rate": 0.2, "error_statuses": [500, 502, 503]})
    statuses = [dana.post("/lead/", json={"name": f"Fault {i}"}).status_code for i in range(300)]
    failures = [s for s in statuses if s != 200]
    assert set(failures) <= {500, 502, 503} and set(statuses) <= {200, 500, 502, 503}
    # binomial(300, 0.2): mean 60, sd ~6.9 — allow ±5 sd
    assert 25 <= len(failures) <= 95, len(failures)
    sb.control("DELETE", "faults")
    # error faults run before the handler: nothing was written for them
    total = dana.get("/lead/", params={"_limit": 1}).json()["total_results"]
    assert total == 6 + statuses.count(200)
    log = sb.control("GET", "requests")["data"]
    assert sum(1 for e in log if e["fault"] == "error") == len(failures)


def test_response_lost_commits_the_write(sb, dana):
    sb.control("PUT", "faults", {"response_lost_rate": 1.0, "paths": ["/activity/whatsapp_message/"],
                                 "methods": ["POST"]})
    resp = dana.post("/activity/whatsapp_message/", json=wa_body(external_whatsapp_message_id="wamid.lost"))
    assert resp.status_code == 502 and "Bad Gateway" in resp.text
    assert dana.get("/me/").status_code == 200  # other paths unaffected
    found = dana.get("/activity/whatsapp_message/", params={"external_whatsapp_message_id": "wamid.lost"}).json()
    assert len(found["data"]) == 1 and found["data"][0]["lead_id"] == seeded.lead_id("bluth")
    assert sb.control("GET", "activities?external_whatsapp_message_id=wamid.lost")["data"][0]["id"] == found["data"][0]["id"]


def test_latency_and_path_filter(sb, dana):
    # A whole second: a busy machine's own delays stay far below it, so only the fault can cross it.
    sb.control("PUT", "faults", {"latency_ms": 1000, "paths": "/lead/"})
    started = time.perf_counter()
    assert dana.get("/lead/").status_code == 200
    assert time.perf_counter() - started >= 1.0
    started = time.perf_counter()
    assert dana.get("/me/").status_code == 200
    assert time.perf_counter() - started < 1.0


def test_request_log_and_no_secrets(sb, dana, http):
    sb.control("DELETE", "requests")
    dana.get("/me/")
    Api(http, sb, key="bad-key").get("/lead/")
    log = sb.control("GET", "requests")
    entries = log["data"]
    assert [(e["method"], e["path"], e["status"], e["credential"]) for e in entries] == [
        ("GET", "/api/v1/me/", 200, "api_key"), ("GET", "/api/v1/lead/", 401, None)]
    assert entries[0]["organization_id"] == SALES and entries[0]["group"] == "identity:GET"
    later = sb.control("GET", f"requests?since={log['next_index']}")
    assert later["data"] == [] and later["next_index"] == log["next_index"]
    assert DANA_SALES_KEY not in str(entries) and "bad-key" not in str(entries)


def test_state_and_reset(sb, dana):
    dana.post("/lead/", json={"name": "Temp"})
    state = sb.control("GET", "state")
    sales = next(o for o in state["organizations"] if o["id"] == SALES)
    assert sales["counts"]["leads"] == 7 and sales["name"] == "Acme Sales"
    sb.reset()
    sales = next(o for o in sb.control("GET", "state")["organizations"] if o["id"] == SALES)
    assert sales["counts"] == {"leads": 6, "contacts": 6, "whatsapp_messages": 0}
