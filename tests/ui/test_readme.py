"""The README documents the ports and embeds screenshots that the browser suite writes."""
import os
import re

from tests.conftest import ROOT


def test_readme_documents_ports_and_embeds_existing_screenshots():
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    for variable in ("WEB_PORT", "SANDBOX_PORT", "WHATSAPP_SANDBOX_PORT"):
        assert f"| `{variable}` |" in readme
    shots = re.findall(r"\(docs/screenshots/([\w-]+\.png)\)", readme)
    assert {"dashboard.png", "sync-log-mobile.png", "api-keys.png"} <= set(shots)
    for name in shots:
        assert os.path.exists(os.path.join(ROOT, "docs", "screenshots", name)), name
    suite = ""
    for path in (("tests", "ui", "test_screens.py"), ("tests", "connection", "test_card_browser.py")):
        with open(os.path.join(ROOT, *path)) as fh:
            suite += fh.read()
    assert all(f'"{name}"' in suite for name in shots), "every embedded screenshot is made by the suite"
