"""Fixtures of the machine API tests: the sync engine's fast settings (the API feeds it)."""
import pytest

from tests.helpers.messages import FAST


@pytest.fixture
def app_overrides():
    return dict(FAST)
