"""Close's rate limits, honoured by every worker of an organization together.

Close answers every call with `ratelimit: limit=N, remaining=N, reset=S` (per endpoint group)
and 429 + `Retry-After` when a bucket is empty. Close groups endpoints by path AND method
(close-api.md §6.3), so our groups are "<path family>:<METHOD>": a full bucket for creating
activities never stalls reading them. We keep one "blocked until" timestamp per
(organization, endpoint group) in Redis: any worker that learns the bucket is empty blocks
all the others until it refills, so the organization spends its budget instead of 429s.
"""
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


class RedisRateLimiter:
    prefix = "closeline:ratelimit"

    def __init__(self, redis_conn, max_wait=60.0, sleep=time.sleep, clock=time.time):
        self.redis = redis_conn
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock

    def _key(self, org_id, group):
        return f"{self.prefix}:{org_id or 'none'}:{group}"

    def wait_time(self, org_id, group):
        until = self.redis.get(self._key(org_id, group))
        return max(0.0, float(until) - self.clock()) if until else 0.0

    def before_call(self, org_id, group):
        """Sleep while the bucket is known to be empty. Returns the seconds waited."""
        waited = 0.0
        while True:
            delay = self.wait_time(org_id, group)
            if delay <= 0 or waited >= self.max_wait:
                return waited
            delay = min(delay, self.max_wait - waited)
            self.sleep(delay)
            waited += delay

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
        if status == 429:
            self.block(org_id, group, reset if reset else 2.0)  # 2 s: the official client's default
        elif parsed and parsed[1] <= 0:
            self.block(org_id, group, reset)


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
