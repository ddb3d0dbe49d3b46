"""Injected failures: errors before the handler, latency, and "response lost" after the write."""
import random
import threading

DEFAULT_SCOPE = ("/api/v1/", "/oauth2/token/", "/oauth2/revoke/")
GATEWAY_BODY = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}
KEYS = {"error_rate", "error_status", "error_statuses", "latency_ms", "latency_rate",
        "response_lost_rate", "response_delay_ms", "paths", "methods", "seed"}


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.settings = {"error_rate": 0.0, "error_statuses": [503], "latency_ms": 0,
                             "latency_rate": 1.0, "response_lost_rate": 0.0, "response_delay_ms": 0,
                             "paths": None, "methods": None}
            self._rng = random.Random()

    def configure(self, body: dict) -> dict:
        unknown = set(body) - KEYS
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        with self._lock:
            new = dict(self.settings)
            for key in ("error_rate", "latency_rate", "response_lost_rate"):
                if key in body:
                    value = float(body[key])
                    if not 0.0 <= value <= 1.0:
                        raise ValueError(f"{key} must be within 0..1")
                    new[key] = value
            if "latency_ms" in body:
                new["latency_ms"] = max(0, int(body["latency_ms"]))
            if "response_delay_ms" in body:  # after the write: lets a test kill the caller mid-answer
                new["response_delay_ms"] = max(0, int(body["response_delay_ms"]))
            if "error_status" in body:
                new["error_statuses"] = [int(body["error_status"])]
            if "error_statuses" in body:
                statuses = [int(s) for s in body["error_statuses"]]
                if not statuses:
                    raise ValueError("error_statuses must not be empty")
                new["error_statuses"] = statuses
            for key in ("paths", "methods"):
                if key in body:
                    value = body[key]
                    new[key] = [value] if isinstance(value, str) else (list(value) if value else None)
            if new["methods"]:
                new["methods"] = [m.upper() for m in new["methods"]]
            if "seed" in body:
                self._rng = random.Random(body["seed"])
            self.settings = new
            return dict(new)

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.settings)

    def applies(self, path: str, method: str) -> bool:
        s = self.settings
        if not path.startswith(DEFAULT_SCOPE):
            return False
        if s["methods"] and method.upper() not in s["methods"]:
            return False
        if s["paths"]:
            return any(path.startswith(p) or path.startswith("/api/v1" + p) for p in s["paths"])
        return True

    def roll(self, path: str, method: str) -> dict:
        """Decide this request's fate: {"latency": seconds, "error": status|None, "lost": bool}."""
        with self._lock:
            s = self.settings
            fate = {"latency": 0.0, "error": None, "lost": False, "response_delay": 0.0}
            if not (s["error_rate"] or s["latency_ms"] or s["response_lost_rate"] or s["response_delay_ms"]) \
                    or not self.applies(path, method):
                return fate
            fate["response_delay"] = s["response_delay_ms"] / 1000.0
            rng = self._rng
            if s["latency_ms"] and rng.random() < s["latency_rate"]:
                fate["latency"] = s["latency_ms"] / 1000.0
            if s["error_rate"] and rng.random() < s["error_rate"]:
                fate["error"] = rng.choice(s["error_statuses"])
            elif s["response_lost_rate"] and rng.random() < s["response_lost_rate"]:
                fate["lost"] = True
            return fate


def gateway_body(status: int) -> str:
    return GATEWAY_BODY.format(status=status, reason=REASONS.get(status, "Error"))
