"""Driving the WhatsApp sandbox directly (its own tests): fast clocks, the people's phones, an
independent webhook receiver that records raw bodies and headers, and a WAHA client with the API key."""
import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.helpers.waiting import wait_for

FAST = {
    "WAHA_STARTING_SECONDS": 0.05,
    "WAHA_WAIT_SECONDS": 1.0,
    "WEBHOOK_DELAY_SCALE": 0.01,
    "EVOLUTION_CONNECT_SECONDS": 0.05,
}
MEMBER = "+14155550003"
OTHER_MEMBER = "+14155550002"
CUSTOMER = "+5511987654321"
LID_CUSTOMER = "+61412345678"  # seen only as @lid, resolvable
HIDDEN_CUSTOMER = "+6591234567"  # seen only as @lid, no phone mapping
WAIT = 15.0  # the sandbox runs on fast clocks: what it does takes well under this


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Receiver:
    """A webhook endpoint of our own: records every request; answers statuses from a script."""

    def __init__(self):
        self.received: list[dict] = []
        self.script: list[int] = []  # statuses to answer next (then 200)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.received.append({"path": request.path, "headers": dict(request.headers),
                                  "body": request.get_data(), "json": request.get_json(silent=True)})
            status = self.script.pop(0) if self.script else 200
        return Response("{}", status=status, mimetype="application/json")(environ, start_response)

    def events(self, name=None) -> list[dict]:
        with self._lock:
            items = list(self.received)
        return [r for r in items if name is None or (r["json"] or {}).get("event") == name]

    def wait_events(self, name, count=1, timeout=WAIT) -> list[dict]:
        return wait_for(lambda: len(self.events(name)) >= count and self.events(name), timeout=timeout,
                        message=f"{count} {name} event(s)")

    def clear(self):
        with self._lock:
            self.received.clear()
            self.script.clear()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class Waha:
    """requests bound to the WAHA façade with the API key."""

    def __init__(self, server):
        self.base, self.headers = server.waha_url, server.waha_headers
        self.http = requests.Session()

    def call(self, method, path, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw): return self.call("GET", path, **kw)
    def post(self, path, **kw): return self.call("POST", path, **kw)
    def put(self, path, **kw): return self.call("PUT", path, **kw)
    def delete(self, path, **kw): return self.call("DELETE", path, **kw)

    def status(self, name):
        return self.get(f"/api/sessions/{name}").json()["status"]

    def wait_status(self, name, status):
        return wait_for(lambda: self.status(name) == status, timeout=WAIT, message=f"session {name} {status}")

    def link(self, server, name, number, webhook_url=None, events=None, hmac_key="secret-key", retries=None,
             noweb_store=False):
        """Create + start a session with a webhook, wait for its QR and scan it with `number`."""
        config = {"metadata": {"workspace.id": "42"}}
        if noweb_store:
            config["noweb"] = {"store": {"enabled": True, "fullSync": False}}
        if webhook_url:
            config["webhooks"] = [{"url": webhook_url, "events": events or ["message.any", "session.status",
                                                                             "message.edited", "message.revoked",
                                                                             "message.ack"],
                                   "hmac": {"key": hmac_key},
                                   "retries": retries or {"attempts": 3, "delaySeconds": 1}}]
        created = self.post("/api/sessions", json={"name": name, "start": True, "config": config})
        assert created.status_code == 201, created.text
        self.wait_status(name, "SCAN_QR_CODE")
        value = self.get(f"/api/{name}/auth/qr", params={"format": "raw"}).json()["value"]
        server.control("POST", "scan", {"number": number, "qr": value})
        self.wait_status(name, "WORKING")
