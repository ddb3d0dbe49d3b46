"""The Sandbox object: world + limiter + faults + request log, shared by all blueprints."""
import threading

from flask import current_app

from . import world as seed_world
from .faults import Faults
from .ratelimit import RateLimiter
from .state import World

MAX_LOG = 200_000


class Sandbox:
    def __init__(self, app):
        self.app = app
        self.world = World()
        self.limiter = RateLimiter(app.config["RATE_LIMIT"], app.config["RATE_WINDOW"], app.config["RATE_LIMITS"])
        self.faults = Faults()
        self._log_lock = threading.Lock()
        self.requests: list[dict] = []
        self.log_offset = 0  # index of requests[0], so ?since= stays valid after trimming
        self.index_delay = 0.0
        self.reset()

    @property
    def config(self):
        return self.app.config

    @property
    def public_url(self) -> str:
        return self.app.config["PUBLIC_URL"].rstrip("/")

    @property
    def file_prefix(self) -> str:
        return f"{self.public_url}/go/file/"

    def reset(self):
        with self.world.lock:
            seed_world.seed(self.world, self.app.config["REDIRECT_URIS"])
        self.index_delay = float(self.app.config["SEARCH_INDEX_DELAY"])
        self.limiter.reset()
        self.faults.reset()
        self.clear_log()

    def clear_log(self):
        with self._log_lock:
            self.log_offset += len(self.requests)
            self.requests = []

    def log(self, entry: dict):
        with self._log_lock:
            entry["index"] = self.log_offset + len(self.requests)
            self.requests.append(entry)
            if len(self.requests) > MAX_LOG:
                drop = len(self.requests) - MAX_LOG
                self.requests = self.requests[drop:]
                self.log_offset += drop

    def log_since(self, since: int) -> tuple[list, int]:
        with self._log_lock:
            start = max(0, since - self.log_offset)
            return list(self.requests[start:]), self.log_offset + len(self.requests)


def sandbox() -> Sandbox:
    return current_app.extensions["close_sandbox"]
