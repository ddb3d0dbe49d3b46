"""Close's rate limits, honoured by every worker of an organization together.

Close answers every call with `ratelimit: limit=N, remaining=N, reset=S` (per endpoint group)
and 429 + `Retry-After` when a bucket is empty. Close groups endpoints by path AND method
(close-api.md §6.3), so our groups are "<path family>:<METHOD>": a full bucket for creating
activities never stalls reading them. Two things per (organization, endpoint group) in Redis,
shared by every worker and thread of the organization:

- pacing: the bucket's shape (limit, and its window learnt as the largest `reset` seen) and a
  "next free slot" time. Each call reserves the next slot, PACE_SHARE of the limit spread evenly
  over the window, and sleeps until it. With many calls in flight (a drain's pool) this keeps the
  organization just under the limit instead of emptying the bucket and eating 429s;
- a "blocked until" timestamp: any worker that learns the bucket is empty (429, remaining=0)
  blocks all the others until it refills;
- `remaining` is believed: when fewer calls are left than pacing would send before the window
  resets (the limit just dropped, or another integration of the organization spends the same
  budget), the next slot moves so that the calls left end at the reset instead of in 429s.
Slots are computed on the Redis server's clock, so hosts with skewed clocks agree.
"""
import math
import re
import time

_HEADER = re.compile(r"limit=(?P<limit>\d+(?:\.\d+)?),\s*remaining=(?P<remaining>\d+(?:\.\d+)?),\s*"
                     r"reset=(?P<reset>\d+(?:\.\d+)?)")


def parse_ratelimit(value):
    """'limit=100, remaining=50, reset=5.2' → (100, 50, 5.2); None when absent or malformed."""
    match = _HEADER.search(value or "")
    if not match:
        return None
    return int(float(match["limit"])), int(float(match["remaining"])), float(match["reset"])


def endpoint_group(path, method="GET"):
    """('/activity/whatsapp_message/', 'POST') → 'activity:POST'."""
    parts = [p for p in path.split("/") if p]
    return f"{parts[0] if parts else 'root'}:{method.upper()}"


def reset_seconds(headers):
    """Seconds until the bucket refills: `reset` of the RateLimit header (the precise one), else a
    separate RateLimit-Reset header, else Retry-After (close-api.md §6.3); None when absent."""
    parsed = parse_ratelimit(headers.get("ratelimit"))
    if parsed:
        return parsed[2]
    for name in ("ratelimit-reset", "retry-after"):
        value = _float(headers.get(name))
        if value is not None:
            return value
    return None


PACE_SHARE = 0.95     # of Close's limit: arrival jitter must not push a window over it
SHAPE_TTL = 3600      # seconds a learnt bucket shape is kept without new responses

# KEYS: shape hash, next-slot key, blocked-until key. ARGV: pace share, the caller's clock.
# One round trip per call: "b<seconds>" while the bucket is blocked (nothing reserved), else the
# seconds to wait for the reserved slot (0 while the shape is unknown).
_RESERVE = """
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > tonumber(ARGV[2]) then return 'b' .. string.format('%.6f', blocked - tonumber(ARGV[2])) end
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or '0')
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or '0')
if limit <= 0 or window <= 0 then return '0' end
local interval = window / (limit * tonumber(ARGV[1]))
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slot = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
redis.call('SET', KEYS[2], string.format('%.6f', slot + interval), 'PX', math.ceil(window * 2000) + 1000)
return string.format('%.6f', slot - now)
"""
# KEYS: next-slot key. ARGV: seconds from now before which no slot may start, key TTL (ms).
_DEFER = """
local t = redis.call('TIME')
local earliest = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
if earliest > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', earliest), 'PX', tonumber(ARGV[2]))
end
return 0
"""
# KEYS: shape hash. ARGV: limit, reset, ttl. A new limit restarts the window estimate.
_LEARN = """
local old = tonumber(redis.call('HGET', KEYS[1], 'limit') or '-1')
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or '0')
local reset = tonumber(ARGV[2])
if old ~= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'window', ARGV[2])
elseif reset > window then
  redis.call('HSET', KEYS[1], 'window', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 0
"""


class RedisRateLimiter:
    prefix = "closeline:ratelimit"

    def __init__(self, redis_conn, max_wait=60.0, sleep=time.sleep, clock=time.time):
        self.redis = redis_conn
        self._shapes = {}  # (org, group) → (limit, window) this process already told Redis
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock

    def _key(self, org_id, group):
        return f"{self.prefix}:{org_id or 'none'}:{group}"

    def wait_time(self, org_id, group):
        until = self.redis.get(self._key(org_id, group))
        return max(0.0, float(until) - self.clock()) if until else 0.0

    def before_call(self, org_id, group):
        """Wait while the bucket is known to be empty, then for this call's slot. Returns the seconds
        waited. (Slots are reserved after a block, not before: calls held by a block then leave
        spaced out, not all at once into the fresh window.)"""
        waited = 0.0
        while True:
            blocked, delay = self._reserve(org_id, group)
            if not blocked or waited >= self.max_wait:
                break
            delay = min(delay, self.max_wait - waited)
            self.sleep(delay)
            waited += delay
        delay = min(delay, self.max_wait) if not blocked else 0.0
        if delay > 0:
            self.sleep(delay)
        return waited + delay

    def _reserve(self, org_id, group):
        """(blocked, seconds): the bucket is blocked for that long, or this call's slot is that far."""
        key = self._key(org_id, group)
        try:
            answer = self.redis.eval(_RESERVE, 3, key + ":shape", key + ":slot", key, PACE_SHARE,
                                     repr(self.clock()))
        except Exception:  # a Redis without scripting: no pacing, only blocks on empty buckets
            delay = self.wait_time(org_id, group)
            return delay > 0, delay
        answer = answer.decode() if isinstance(answer, bytes) else str(answer)
        if answer.startswith("b"):
            return True, float(answer[1:])
        return False, max(0.0, float(answer))

    def learn(self, org_id, group, limit, reset):
        known = self._shapes.get((org_id, group))
        if known and known[0] == limit and reset <= known[1]:
            return  # nothing new: spare the Redis round trip on every response
        self._shapes[(org_id, group)] = (limit, max(reset, known[1]) if known and known[0] == limit else reset)
        try:
            self.redis.eval(_LEARN, 1, self._key(org_id, group) + ":shape", limit, repr(float(reset)), SHAPE_TTL)
        except Exception:  # see _reserve(): pacing is an optimisation, the 429 handling stays
            pass

    def spread_remaining(self, org_id, group, remaining, reset):
        """Close has `remaining` calls left for the next `reset` seconds. If the pace would send
        more than that before the reset, start the next slot late enough that it sends exactly
        `remaining` (each call still takes its own slot after that)."""
        limit, window = self._shapes.get((org_id, group), (0, 0))
        if limit <= 0 or window <= 0 or remaining <= 0:
            return
        late_by = reset - remaining * window / (limit * PACE_SHARE)
        if late_by <= 0:
            return  # the usual case: the pace already fits, no Redis round trip
        try:
            self.redis.eval(_DEFER, 1, self._key(org_id, group) + ":slot", repr(late_by),
                            math.ceil(window * 2000) + 1000)
        except Exception:  # see _reserve()
            pass

    def block(self, org_id, group, seconds):
        """Everyone waits `seconds` for this bucket (kept if another worker set a later time)."""
        if seconds <= 0:
            return
        until = self.clock() + seconds
        key = self._key(org_id, group)
        with self.redis.pipeline() as pipe:
            pipe.get(key)
            current = pipe.execute()[0]
        if current is None or float(current) < until:
            self.redis.set(key, repr(until), px=max(1, int(seconds * 1000) + 50))

    def after_response(self, org_id, group, status, headers):
        headers = {k.lower(): v for k, v in headers.items()}
        parsed = parse_ratelimit(headers.get("ratelimit"))
        reset = reset_seconds(headers)
        if parsed:
            self.learn(org_id, group, parsed[0], parsed[2])
            self.spread_remaining(org_id, group, parsed[1], parsed[2])
        if status == 429:
            self.block(org_id, group, reset if reset else 2.0)  # 2 s: the official client's default
        elif parsed and parsed[1] <= 0:
            self.block(org_id, group, reset)


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
