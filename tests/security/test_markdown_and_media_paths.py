"""Customer text can't turn into links, images or HTML in Close, and a gateway's media URL can't
climb out of its files folder however it is spelled."""
import re

import pytest

from tests.helpers.messages import activities, body


def test_customer_text_cannot_render_links_images_or_html_in_close(app, api, sandbox_connection, close_sandbox,
                                                                   drain_now, demo):
    text = "Pay [here](http://evil.test/pay) ![x](http://evil.test/pixel.png) <img src=x> *thanks*"
    assert api.post(body("md-1", text=text)).status_code == 202
    drain_now(demo.acme.id)
    [activity] = activities(close_sandbox, external_id="md-1")
    markdown = activity["message_markdown"]
    assert not re.search(r"\]\(", markdown) and not re.search(r"(?<!\\)<", markdown)   # no link, no tag
    assert "[here]\\(http://evil.test/pay)" in markdown and "\\<img src=x>" in markdown
    assert "*thanks*" in markdown          # WhatsApp's own formatting stays


@pytest.mark.parametrize("path", ["/api/files/../../etc/passwd", "/api/files/%2e%2e/%2e%2e/secret",
                                  "/api/files/%252e%252e/secret", "/api/files/.%2e/x", "/other/file.png"])
def test_a_media_url_outside_the_gateways_files_is_refused(path):
    from webapp.clients.gateways.base import GatewayError
    from webapp.clients.gateways.waha import Client
    with pytest.raises(GatewayError):
        Client("http://waha.test:3000", "key")._rebase(f"http://localhost:3000{path}")
    assert Client("http://waha.test:3000", "key")._rebase("http://localhost:3000/api/files/mia/a.jpeg") == \
        "http://waha.test:3000/api/files/mia/a.jpeg"
