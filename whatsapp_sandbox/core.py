"""The Sandbox object shared by every blueprint: the world, the webhook dispatcher, the request log,
the façades' event listeners and a ticker thread that moves time-driven state (QR rotation,
delivery acks)."""
import logging
import threading
import time

from flask import current_app

from .webhooks import Dispatcher
from .world import World

log = logging.getLogger("whatsapp_sandbox")
MAX_LOG = 50_000
TICK_SECONDS = 0.1


class Sandbox:
    def __init__(self, app):
        self.app = app
        self.world = World()
        self.dispatcher = Dispatcher(delay_scale=app.config["WEBHOOK_DELAY_SCALE"],
                                     timeout=app.config["WEBHOOK_TIMEOUT"])
        self.facades: list = []  # objects with on_message / on_edit / on_revoke / tick / reset
        self.api_down: dict = {}  # facade -> HTTP status answered instead of serving the API
        self._log_lock = threading.Lock()
        self.requests: list[dict] = []
        self.log_offset = 0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_forever, name="wa-sandbox-ticker", daemon=True)

    @property
    def config(self):
        return self.app.config

    @property
    def public_url(self) -> str:
        return self.app.config["PUBLIC_URL"].rstrip("/")

    def facade(self, name: str):
        return next(f for f in self.facades if f.name == name)

    def start(self):
        self.reset()
        self._ticker.start()

    def stop(self):
        self._stop.set()
        self._ticker.join(timeout=5)
        self.dispatcher.stop()

    def reset(self):
        with self.world.lock:
            self.world.seed()
            for facade in self.facades:
                facade.reset()
        self.api_down.clear()
        self.dispatcher.delay_scale = self.app.config["WEBHOOK_DELAY_SCALE"]
        self.dispatcher.reset()
        self.clear_log()

    # --- fan-out of world events to the façades (caller holds world.lock) -----
    def message_created(self, msg):
        for facade in self.facades:
            facade.on_message(msg)

    def message_edited(self, msg, action_id: str):
        for facade in self.facades:
            facade.on_edit(msg, action_id)

    def message_revoked(self, msg):
        for facade in self.facades:
            facade.on_revoke(msg)

    def _tick_forever(self):
        while not self._stop.wait(TICK_SECONDS):
            try:
                with self.world.lock:
                    self.world.run_due_timers()
                    for facade in self.facades:
                        facade.tick()
            except Exception:  # a bug in one tick must not stop time
                log.exception("ticker")

    # --- request log --------------------------------------------------------------
    def log_request(self, entry: dict):
        with self._log_lock:
            entry["index"] = self.log_offset + len(self.requests)
            self.requests.append(entry)
            if len(self.requests) > MAX_LOG:
                drop = len(self.requests) - MAX_LOG
                self.requests = self.requests[drop:]
                self.log_offset += drop

    def clear_log(self):
        with self._log_lock:
            self.log_offset += len(self.requests)
            self.requests = []

    def log_since(self, since: int) -> tuple[list, int]:
        with self._log_lock:
            start = max(0, since - self.log_offset)
            return list(self.requests[start:]), self.log_offset + len(self.requests)


def sandbox() -> Sandbox:
    return current_app.extensions["whatsapp_sandbox"]


def now_ms() -> int:
    return int(time.time() * 1000)
