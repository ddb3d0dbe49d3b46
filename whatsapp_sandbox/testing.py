"""WhatsAppSandboxServer: run the WhatsApp sandbox on a free port in a background thread."""
import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the gateways' servers

    def log_request(self, code="-", size="-"):
        pass


class WhatsAppSandboxControlError(RuntimeError):
    def __init__(self, response):
        super().__init__(f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:300]}")
        self.response = response


class WhatsAppSandboxServer:
    """with WhatsAppSandboxServer() as wa: requests.get(wa.waha_url + "/api/sessions", headers=wa.waha_headers)"""

    def __init__(self, config: dict | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = dict(config or {})
        self.config.setdefault("LOG_REQUESTS", False)
        self.host, self.port = host, port
        self.app = self.url = None
        self._server = self._thread = None
        self._http = requests.Session()

    # --- where things are -------------------------------------------------------------
    @property
    def waha_url(self) -> str:
        return f"{self.url}/waha"

    @property
    def evolution_url(self) -> str:
        return f"{self.url}/evolution"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/graph"

    @property
    def waha_headers(self) -> dict:
        return {"X-Api-Key": self.app.config["WAHA_API_KEY"]}

    @property
    def evolution_headers(self) -> dict:
        return {"apikey": self.app.config["EVOLUTION_API_KEY"]}

    @property
    def graph_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.app.config['GRAPH_ACCESS_TOKEN']}"}

    @property
    def sandbox(self):
        return self.app.extensions["whatsapp_sandbox"]

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "WhatsAppSandboxServer":
        if self.app is not None:
            return self
        self._server = make_server(self.host, self.port, None, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{self.host}:{self._server.server_port}"
        self.config.setdefault("PUBLIC_URL", self.url)  # media urls must point at the real port
        self.app = create_app(self.config)
        self._server.app = self.app
        self._thread = threading.Thread(target=self._server.serve_forever, name="whatsapp-sandbox", daemon=True)
        self._thread.start()
        return self

    def go_offline(self) -> None:
        """Stop listening (connections are refused) but keep the world, sessions and pending deliveries."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def go_online(self) -> None:
        """Listen again on the same port, with the same state."""
        if self._server is None:
            self._serve(self.app, self.port_number)

    @property
    def port_number(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _serve(self, app, port: int) -> None:
        self._server = make_server(self.host, port, app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="whatsapp-sandbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.app is None:
            return
        self.go_offline()
        self.sandbox.stop()
        self._http.close()
        self.app = None

    def __enter__(self) -> "WhatsAppSandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control API ------------------------------------------------------------------------
    def control(self, method: str, path: str, json=None, **params):
        """Call /_sandbox/<path>; returns the decoded JSON, raises WhatsAppSandboxControlError on >= 400."""
        path = path if path.startswith("/_sandbox") else "/_sandbox/" + path.lstrip("/")
        resp = self._http.request(method.upper(), self.url + path, json=json, params=params or None, timeout=30)
        if resp.status_code >= 400:
            raise WhatsAppSandboxControlError(resp)
        return resp.json() if resp.content else None

    def reset(self, **config):
        """Reset the world; keyword arguments set run-time config first (e.g. WAHA_SINGLE_SESSION=True)."""
        if config:
            self.control("PUT", "config", config)
        return self.control("POST", "reset")

    def state(self) -> dict:
        return self.control("GET", "state")

    def send(self, sender: str, recipient: str, text: str = "", **extra) -> dict:
        return self.control("POST", "messages", {"from": sender, "to": recipient, "text": text, **extra})

    def webhooks(self, since: int = 0, **filters) -> list:
        return self.control("GET", "webhooks", since=since, **filters)["data"]
