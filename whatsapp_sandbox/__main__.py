"""python -m whatsapp_sandbox — serve the WhatsApp sandbox (WHATSAPP_SANDBOX_HOST / _PORT)."""
import logging
import os

from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class QuietHandler(WSGIRequestHandler):
    """The app logs one line per API request itself (without credentials). HTTP/1.1 keeps
    connections open between calls, as the gateways' own servers do."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        pass


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = os.environ.get("WHATSAPP_SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("WHATSAPP_SANDBOX_PORT", "5060"))
    config = {}
    if "WHATSAPP_SANDBOX_PUBLIC_URL" not in os.environ:
        config["PUBLIC_URL"] = f"http://{host}:{port}"
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    logging.getLogger("whatsapp_sandbox").info(
        "WhatsApp sandbox on http://%s:%s — WAHA at /waha, Evolution API at /evolution, Cloud API at /graph, "
        "phones at /phones/", host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["whatsapp_sandbox"].stop()


if __name__ == "__main__":
    main()
