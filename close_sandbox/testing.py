"""SandboxServer: run the sandbox on a free port in a background thread (tests, benchmarks)."""
import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Close's servers

    def log_request(self, code="-", size="-"):
        pass


class SandboxControlError(RuntimeError):
    def __init__(self, response):
        super().__init__(f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:300]}")
        self.response = response


class SandboxServer:
    """with SandboxServer() as sb: requests.get(sb.url + "/api/v1/me/", auth=(KEY, ""))"""

    def __init__(self, config: dict | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = dict(config or {})
        self.config.setdefault("LOG_REQUESTS", False)
        self.host, self.port = host, port
        self.app = None
        self.url = None
        self._server = None
        self._thread = None
        self._http = requests.Session()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def start(self) -> "SandboxServer":
        if self._server is not None:
            return self
        self.app = create_app(self.config)
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{self.host}:{self._server.server_port}"
        if "PUBLIC_URL" not in self.config:  # download/upload urls must point at the real port
            self.app.config["PUBLIC_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="close-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._http.close()
        self._server = self._thread = None

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def control(self, method: str, path: str, json=None):
        """Call /_sandbox/<path>; returns the decoded JSON, raises SandboxControlError on >= 400."""
        path = path if path.startswith("/_sandbox") else "/_sandbox/" + path.lstrip("/")
        resp = self._http.request(method.upper(), self.url + path, json=json, timeout=30)
        if resp.status_code >= 400:
            raise SandboxControlError(resp)
        return resp.json() if resp.content else None

    def reset(self):
        return self.control("POST", "/_sandbox/reset")
