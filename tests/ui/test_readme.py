"""The README documents the ports and embeds screenshots that the browser suite writes."""
import os
import re

from tests.helpers.paths import ROOT


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
    for browser_suite in (("ui", "test_screens.py"), ("whatsapp", "test_browser.py"),
                          ("close_connection", "test_card_browser.py")):
        with open(os.path.join(ROOT, "tests", *browser_suite)) as fh:
            suite += fh.read()
    # The WhatsApp browser test writes whatsapp-<state>.png for the states it walks through.
    made = {name for name in shots if f'"{name}"' in suite
            or (name.startswith("whatsapp-") and f'"{name[len("whatsapp-"):-len(".png")]}"' in suite)}
    assert made == set(shots), "every embedded screenshot is made by the suite"
