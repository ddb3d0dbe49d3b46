"""Unit tests of the Close client's error handling and rate-limit cooperation (requests-mock)."""
import fakeredis
import pytest
import requests

from webapp.clients.close.client import CloseAuthError, CloseClient, CloseNotFound, CloseRejected, CloseTransient
from webapp.clients.close.ratelimit import RedisRateLimiter, endpoint_group, parse_ratelimit

API = "https://api.close.test/api/v1"

pytestmark = pytest.mark.sqlite_only


def client(**kwargs):
    kwargs.setdefault("api_key", "key_123")
    return CloseClient(API, **kwargs)


def test_api_key_goes_in_basic_auth_with_empty_password(requests_mock):
    requests_mock.get(f"{API}/me/", json={"id": "user_1"})
    assert client().me() == {"id": "user_1"}
    assert requests_mock.last_request.headers["Authorization"] == "Basic a2V5XzEyMzo="


def test_paths_always_end_with_a_slash(requests_mock):
    requests_mock.get(f"{API}/lead/lead_1/", json={"id": "lead_1"})
    assert client().get("/lead/lead_1")["id"] == "lead_1"


@pytest.mark.parametrize("status,body,exc,text", [
    (400, {"errors": [], "field-errors": {"lead_id": "Object does not exist."}}, CloseRejected, "lead_id"),
    (404, {"error": "Empty query: Lead matching query does not exist."}, CloseNotFound, "does not exist"),
    (403, {"error": "Forbidden"}, CloseRejected, "Forbidden"),
    (401, {"error": "The server could not verify that you are authorized"}, CloseAuthError, "authorized"),
    (503, {}, CloseTransient, "503"),
])
def test_error_shapes_become_typed_errors(requests_mock, status, body, exc, text):
    requests_mock.post(f"{API}/activity/whatsapp_message/", status_code=status, json=body)
    with pytest.raises(exc) as info:
        client().create_whatsapp_activity({"x": 1})
    assert text in str(info.value)
    assert info.value.status == status


def test_field_errors_are_kept(requests_mock):
    requests_mock.post(f"{API}/lead/", status_code=400, json={"errors": ["bad"], "field-errors": {"name": "x"}})
    with pytest.raises(CloseRejected) as info:
        client().create_lead("A", "B", "+14155550100")
    assert info.value.field_errors == {"name": "x"} and info.value.errors == ["bad"]


def test_5xx_on_a_write_is_ambiguous_but_not_on_a_read(requests_mock):
    requests_mock.post(f"{API}/activity/whatsapp_message/", status_code=502, text="bad gateway")
    requests_mock.get(f"{API}/me/", status_code=502, text="bad gateway")
    with pytest.raises(CloseTransient) as write:
        client().create_whatsapp_activity({})
    with pytest.raises(CloseTransient) as read:
        client().me()
    assert write.value.ambiguous and not read.value.ambiguous


def test_timeout_is_transient_and_ambiguous_for_writes(requests_mock):
    requests_mock.post(f"{API}/lead/", exc=requests.exceptions.ReadTimeout)
    with pytest.raises(CloseTransient) as info:
        client().create_lead("A", "B", "+14155550100")
    assert info.value.ambiguous


def test_401_refreshes_the_token_once_then_gives_up(requests_mock):
    requests_mock.get(f"{API}/me/", [{"status_code": 401, "json": {"error": "expired"}},
                                     {"status_code": 200, "json": {"id": "user_1"}}])
    refreshed = []
    c = client(api_key=None, access_token="old", token_refresher=lambda: refreshed.append(1) or "new")
    assert c.me()["id"] == "user_1"
    assert refreshed == [1]
    assert requests_mock.last_request.headers["Authorization"] == "Bearer new"

    requests_mock.get(f"{API}/me/", status_code=401, json={"error": "revoked"})
    c = client(api_key=None, access_token="old", token_refresher=lambda: "new")
    with pytest.raises(CloseAuthError):
        c.me()
    assert requests_mock.call_count == 4  # 2 above + one try and one retry here


def test_429_waits_as_told_then_retries_when_a_rate_limiter_is_shared(requests_mock):
    slept, now = [], [1000.0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RedisRateLimiter(fakeredis.FakeRedis(), sleep=sleep, clock=lambda: now[0])
    requests_mock.post(f"{API}/activity/whatsapp_message/", [
        {"status_code": 429, "headers": {"ratelimit": "limit=10, remaining=0, reset=1.5", "retry-after": "2"},
         "json": {"error": {"message": "API call count exceeded for this period"}}},
        {"status_code": 200, "json": {"id": "acti_1"}},
    ])
    c = client(org_id="orga_1", rate_limiter=limiter)
    assert c.create_whatsapp_activity({})["id"] == "acti_1"
    assert slept and 1.5 <= sum(slept) <= 2.2


def test_429_without_limiter_is_transient_with_retry_after(requests_mock):
    requests_mock.get(f"{API}/me/", status_code=429, headers={"retry-after": "3"}, json={})
    with pytest.raises(CloseTransient) as info:
        client().me()
    assert info.value.retry_after == 3.0 and not info.value.ambiguous


def test_empty_bucket_blocks_every_worker_of_the_org_until_reset():
    redis = fakeredis.FakeRedis()
    now = [1000.0]
    a = RedisRateLimiter(redis, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    b = RedisRateLimiter(redis, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    a.after_response("orga_1", "activity:POST", 200, {"ratelimit": "limit=40, remaining=0, reset=0.8"})
    assert b.wait_time("orga_1", "activity:POST") == pytest.approx(0.8)
    assert b.wait_time("orga_2", "activity:POST") == 0  # other organizations are not affected
    assert b.wait_time("orga_1", "lead:POST") == 0      # nor other endpoint groups
    assert b.wait_time("orga_1", "activity:GET") == 0   # nor other methods of the same path
    assert b.before_call("orga_1", "activity:POST") == pytest.approx(0.8)


def test_ratelimit_reset_header_is_read_when_the_ratelimit_header_is_absent():
    redis = fakeredis.FakeRedis()
    now = [1000.0]
    limiter = RedisRateLimiter(redis, clock=lambda: now[0])
    limiter.after_response("orga_1", "lead:GET", 429, {"RateLimit-Reset": "4.5", "Retry-After": "5"})
    assert limiter.wait_time("orga_1", "lead:GET") == pytest.approx(4.5)


def test_header_parsing_accepts_decimal_reset():
    assert parse_ratelimit("limit=100, remaining=50, reset=5.25") == (100, 50, 5.25)
    assert parse_ratelimit("garbage") is None
    assert endpoint_group("/activity/whatsapp_message/", "post") == "activity:POST"
    assert endpoint_group("/activity/whatsapp_message/") == "activity:GET"


def test_upload_file_posts_the_form_then_returns_the_download_url(requests_mock):
    requests_mock.post(f"{API}/files/upload/", json={
        "upload": {"url": "https://s3.close.test/", "fields": {"key": "k1"}},
        "download": {"url": "https://app.close.test/go/file/k1/"}})
    requests_mock.post("https://s3.close.test/", status_code=201)
    assert client().upload_file("a.jpg", "image/jpeg", b"123") == "https://app.close.test/go/file/k1/"
    assert b"k1" in requests_mock.last_request.body


def test_attachments_over_25_mb_are_refused_before_any_call(requests_mock):
    with pytest.raises(CloseRejected):
        client().upload_file("big.bin", "application/octet-stream", b"0" * 25_000_001)
    assert requests_mock.call_count == 0
