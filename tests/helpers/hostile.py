"""A small hostile HTTP server on loopback: a secret page, redirects, a slow drip, a huge body.
It records every request it receives, so a test can assert that nothing was fetched."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SECRET = b"internal-admin-secret"


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        server.hits.append({"path": parts.path, "host": self.headers.get("Host")})
        handler = getattr(self, "serve_" + parts.path.strip("/").replace("-", "_").replace("/", "_"), None)
        if handler is None:
            return self._send(404, b"not found")
        return handler(query)

    def _send(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def serve_admin_secret(self, query):
        self._send(200, SECRET, {"Content-Type": "text/plain",
                                 "Content-Disposition": 'attachment; filename="secret.txt"'})

    def serve_file(self, query):
        self._send(200, b"%PDF-1.4 public file", {"Content-Type": "application/pdf"})

    def serve_redirect(self, query):
        self._send(302, b"", {"Location": query["to"]})

    def serve_loop(self, query):
        n = int(query.get("n", "0"))
        self._send(302, b"", {"Location": f"/loop?n={n + 1}"})

    def serve_drip(self, query):
        """Declares 200 bytes and sends one every `every` seconds (a worker-holding slow loris)."""
        every = float(query.get("every", "0.3"))
        self.send_response(200)
        self.send_header("Content-Length", "200")
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(every)
            self.server.drips_finished += 1
        except OSError:
            pass  # the client hung up: what the test wants

    def serve_stall(self, query):
        self.send_response(200)
        self.send_header("Content-Length", "10")
        self.end_headers()
        self.wfile.flush()
        time.sleep(float(query.get("for", "30")))

    def serve_huge(self, query):
        """No Content-Length: the cap must hold while streaming."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for _ in range(int(query.get("mb", "4")) * 16):
                self.wfile.write(b"y" * 65536)
        except OSError:
            pass
        self.close_connection = True

    def serve_declared_huge(self, query):
        self.send_response(200)
        self.send_header("Content-Length", str(10 ** 10))
        self.end_headers()


class HostileServer:
    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
        self.httpd.daemon_threads = True
        self.httpd.hits = []
        self.httpd.drips_finished = 0
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hits(self):
        return self.httpd.hits

    @property
    def drips_finished(self):
        return self.httpd.drips_finished

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    @property
    def gateway(self):
        """The allow_private pair an owner/admin would configure for a gateway on this address."""
        return ("127.0.0.1", self.port)
