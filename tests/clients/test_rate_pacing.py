"""Pacing under Close's rate limit, shared through Redis by every worker and thread of an
organization: the bucket's shape is learnt from the `ratelimit` header and each call reserves
the next slot, so a pool of concurrent calls stays just under the limit. Real Redis (scripts)."""
import uuid

import pytest
import redis

from webapp.clients.close.ratelimit import PACE_SHARE, RedisRateLimiter


@pytest.fixture
def shared(redis_url):
    return redis.Redis.from_url(redis_url)


def _org():
    return f"orga_{uuid.uuid4().hex[:10]}"


def _shape(conn, limiter, org, group):
    raw = conn.hgetall(limiter._key(org, group) + ":shape")
    return {k.decode(): float(v) for k, v in raw.items()}


def _next_slot(conn, limiter, org, group):
    return float(conn.get(limiter._key(org, group) + ":slot"))


def _redis_now(conn):
    seconds, micros = conn.time()
    return seconds + micros / 1e6


def test_nothing_is_paced_before_the_limit_is_known(shared):
    slept = []
    limiter = RedisRateLimiter(shared, sleep=slept.append)
    assert [limiter.before_call(_org(), "activity") for _ in range(20)] == [0.0] * 20
    assert slept == []


def test_window_is_learnt_from_the_largest_reset_and_restarts_with_a_new_limit(shared):
    limiter, org = RedisRateLimiter(shared), _org()
    for reset in ("0.4", "9.5", "3.0"):
        limiter.after_response(org, "activity", 200, {"ratelimit": f"limit=600, remaining=500, reset={reset}"})
    assert _shape(shared, limiter, org, "activity") == {"limit": 600, "window": 9.5}
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=39, reset=0.7"})
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=30, reset=1.0"})
    assert _shape(shared, limiter, org, "activity") == {"limit": 40, "window": 1.0}
    assert _shape(shared, limiter, org, "lead") == {}  # groups are separate buckets


def test_every_worker_of_the_org_takes_its_own_slot_spaced_under_the_limit(shared):
    slept = []
    workers = [RedisRateLimiter(shared, sleep=slept.append) for _ in range(4)]
    org = _org()
    workers[0].after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=39, reset=1.0"})
    interval = 1.0 / (40 * PACE_SHARE)
    slots = []
    for i in range(60):
        workers[i % 4].before_call(org, "activity")
        slots.append(_next_slot(shared, workers[0], org, "activity"))
    gaps = [later - earlier for earlier, later in zip(slots, slots[1:])]
    assert min(gaps) >= interval - 1e-6       # never two calls in one slot, whichever worker
    assert slots[-1] - slots[0] >= 59 * interval - 1e-6
    assert sum(slept) > 0                     # 60 calls at once had to wait for their slots
    other = _org()                            # another organization has its own budget
    assert workers[1].before_call(other, "activity") == 0.0


def test_when_fewer_calls_remain_than_the_pace_would_send_the_next_slot_waits(shared):
    """The limit drops from 100,000 to 40 while calls paced for the old limit are in flight:
    Close says 16 calls remain for 0.85 s, so the next slot starts when 16 paced calls end
    at the reset, not now (which would send 32 and earn 16 429s)."""
    limiter, org = RedisRateLimiter(shared), _org()
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=100000, remaining=99000, reset=10"})
    limiter.before_call(org, "activity")
    before = _redis_now(shared)
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=16, reset=0.85"})
    after = _redis_now(shared)
    interval = 0.85 / (40 * PACE_SHARE)  # the window is the largest reset seen for the new limit
    slot = _next_slot(shared, limiter, org, "activity")
    # Measured from Redis's clock at the answer, wherever a busy machine paused this test around it.
    assert slot - after - 1e-3 <= 0.85 - 16 * interval <= slot - before + 1e-3


def test_a_pace_that_fits_the_remaining_calls_is_left_alone(shared):
    limiter, org = RedisRateLimiter(shared), _org()
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=39, reset=1.0"})
    limiter.before_call(org, "activity")
    slot = _next_slot(shared, limiter, org, "activity")
    limiter.after_response(org, "activity", 200, {"ratelimit": "limit=40, remaining=30, reset=0.7"})
    assert _next_slot(shared, limiter, org, "activity") == slot
