"""Fixtures for the WhatsApp sandbox tests: one fast-clocked sandbox per session (reset before each
test) and an independent webhook receiver that records raw bodies and headers."""
import pytest

from tests.helpers.whatsapp_sandbox import FAST, Receiver, Waha
from whatsapp_sandbox.testing import WhatsAppSandboxServer


@pytest.fixture(scope="session")
def wa_server():
    with WhatsAppSandboxServer(dict(FAST)) as server:
        yield server


@pytest.fixture
def wa(wa_server):
    wa_server.reset(**{"WAHA_SINGLE_SESSION": False, "WAHA_ENGINE": "WEBJS", "WAHA_NOWEB_STORE_OFF": False,
                       "WAHA_QR_FIRST_SECONDS": 60.0,
                       "WAHA_QR_NEXT_SECONDS": 20.0, "WAHA_QR_CODES": 6, "WAHA_FILES_LIFETIME": 180.0,
                       "WAHA_API_KEY": "waha-sandbox-key", "GRAPH_WEBHOOK_URL": None,
                       "WEBHOOK_DELAY_SCALE": FAST["WEBHOOK_DELAY_SCALE"]})
    return wa_server


@pytest.fixture(scope="session")
def _receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def receiver(_receiver):
    _receiver.clear()
    return _receiver


@pytest.fixture
def waha(wa):
    client = Waha(wa)
    yield client
    client.http.close()
