"""python -m close_sandbox — serve the sandbox (SANDBOX_HOST / SANDBOX_PORT)."""
import logging
import os

from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class QuietHandler(WSGIRequestHandler):
    """The app logs one line per API request itself (without credentials). HTTP/1.1 keeps
    connections open between calls, as Close's servers do."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        pass


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = os.environ.get("SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("SANDBOX_PORT", "5050"))
    config = {}
    if "SANDBOX_PUBLIC_URL" not in os.environ:
        config["PUBLIC_URL"] = f"http://{host}:{port}"
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    logging.getLogger("close_sandbox").info("Close sandbox on http://%s:%s (public url %s)",
                                            host, server.server_port, app.config["PUBLIC_URL"])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
