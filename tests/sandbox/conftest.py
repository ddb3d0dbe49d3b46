"""Fixtures for the close_sandbox tests: one server per session, reset before each test,
and a recording HTTP session whose exchanges are all contract-checked at the end."""
from urllib.parse import urlsplit

import pytest
import requests

from close_sandbox.testing import SandboxServer
from tests.helpers.close_sandbox import DANA_SALES_KEY, REP_SALES_KEY, Api
from tests.helpers.sandbox_contract import Contract, find_spec

RECORDED: list = []


class RecordingSession(requests.Session):
    """A requests.Session that remembers every API/OAuth exchange for the contract check."""

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        path = urlsplit(request.url).path
        if path.startswith(("/api/v1/", "/oauth2/token/", "/oauth2/revoke/")):
            RECORDED.append((request, response))
        return response


@pytest.fixture(scope="session")
def contract():
    spec = find_spec()
    if spec is None:
        pytest.skip("close-openapi.yml not found (expected /work/shared/reference or ../shared/reference "
                    "beside the repository); contract checks skipped")
    return Contract(spec)


@pytest.fixture(scope="session")
def server():
    with SandboxServer({"STRICT": True}) as srv:  # as unkind as real Close may be
        yield srv


@pytest.fixture(scope="session", autouse=True)
def _contract_check_all_recorded():
    """After the session, validate every recorded exchange against the contract."""
    yield
    spec = find_spec()
    if spec is None or not RECORDED:
        return
    checker = Contract(spec)
    failures = []
    for request, response in RECORDED:
        try:
            checker.check(request, response)
        except Exception as exc:  # collect all, report together
            failures.append(f"{request.method} {request.url} -> {response.status_code}: {exc!r}"[:600])
    assert not failures, f"{len(failures)} of {len(RECORDED)} exchanges break the contract:\n" + "\n".join(failures[:20])


@pytest.fixture
def sb(server):
    server.reset()
    return server


@pytest.fixture
def http():
    with RecordingSession() as session:
        yield session


@pytest.fixture
def dana(http, sb):
    return Api(http, sb, key=DANA_SALES_KEY)


@pytest.fixture
def rep(http, sb):
    return Api(http, sb, key=REP_SALES_KEY)
