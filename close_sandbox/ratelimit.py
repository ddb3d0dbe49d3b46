"""Fixed-window rate limits per (credential, endpoint group) plus an organization layer at 3x.

Close groups endpoints by path AND method (close-api.md §6.3): an endpoint group here is
"<path family>:<METHOD>", e.g. "activity:POST" and "activity:GET" have separate buckets.
Limits may be set for a whole family ("activity") or one group ("activity:POST").
"""
import math
import threading
import time

DEFAULT_LIMIT = 600
DEFAULT_WINDOW = 10.0
ORG_MULTIPLIER = 3

GROUPS = ("lead", "contact", "search", "activity", "identity", "files", "default")
METHODS = ("GET", "POST", "PUT", "DELETE")


def family_for(api_path: str) -> str:
    """api_path is the part after /api/v1, e.g. /lead/lead_x/."""
    first = api_path.strip("/").split("/", 1)[0]
    if first in ("me", "user", "organization", "role", "membership"):
        return "identity"
    if first == "data":
        return "search"
    if first in ("lead", "contact", "activity", "files"):
        return first
    return "default"


def group_for(api_path: str, method: str = "GET") -> str:
    return f"{family_for(api_path)}:{method.upper()}"


def valid_group(group: str) -> bool:
    family, _, method = group.partition(":")
    return family in GROUPS and (not method or method in METHODS)


class _Window:
    __slots__ = ("start", "count")

    def __init__(self, start):
        self.start = start
        self.count = 0


class RateLimiter:
    def __init__(self, default_limit=DEFAULT_LIMIT, default_window=DEFAULT_WINDOW, limits=None):
        self._lock = threading.Lock()
        self.default = {"limit": int(default_limit), "window": float(default_window)}
        self.initial = dict(limits or {})
        self.reset()

    def reset(self):
        with self._lock:
            self.limits = {g: dict(v) for g, v in self.initial.items()}
            self._windows: dict[tuple, _Window] = {}

    def set_limit(self, group: str, limit: int, window: float):
        with self._lock:
            if group == "*":
                self.default = {"limit": int(limit), "window": float(window)}
                self.limits = {}
                self._windows.clear()
            else:
                self.limits[group] = {"limit": int(limit), "window": float(window)}
                if ":" not in group:  # a family setting replaces its per-method settings
                    self.limits = {g: v for g, v in self.limits.items() if not g.startswith(group + ":")}
                self._windows = {k: w for k, w in self._windows.items()
                                 if k[1] != group and not k[1].startswith(group + ":")}

    def config(self) -> dict:
        with self._lock:
            return {"default": dict(self.default),
                    "groups": {f"{g}:{m}": dict(self._limit_for(f"{g}:{m}")) for g in GROUPS for m in METHODS}}

    def _limit_for(self, group):
        return self.limits.get(group) or self.limits.get(group.partition(":")[0]) or self.default

    def _window(self, key, window, now):
        w = self._windows.get(key)
        if w is None or now - w.start >= window:
            w = self._windows[key] = _Window(now)
        return w

    def hit(self, group: str, credential: str, org_id: str | None):
        """Count one request. Returns (allowed, info) where info feeds the headers/429 body."""
        now = time.monotonic()
        with self._lock:
            cfg = self._limit_for(group)
            limit, window = cfg["limit"], cfg["window"]
            key_w = self._window(("key", group, credential), window, now)
            layers = [("key", key_w, limit)]
            if org_id:
                layers.append(("organization", self._window(("org", group, org_id), window, now), limit * ORG_MULTIPLIER))
            for kind, w, lim in layers:
                if w.count >= lim:
                    return False, self._info(kind, w, lim, window, now)
            for _, w, _ in layers:
                w.count += 1
            # report the layer closest to being hit
            kind, w, lim = min(layers, key=lambda layer: layer[2] - layer[1].count)
            return True, self._info(kind, w, lim, window, now)

    @staticmethod
    def _info(kind, w, limit, window, now):
        return {"type": kind, "limit": limit, "remaining": max(0, limit - w.count),
                "reset": max(0.0, window - (now - w.start)), "window": window}


def header_value(info: dict) -> str:
    return f"limit={info['limit']}, remaining={info['remaining']}, reset={info['reset']:.3f}"


def retry_after(info: dict) -> str:
    return str(max(1, math.ceil(info["reset"])))
