"""Fixtures of the sync status tests: the sync engine's fast settings."""
import pytest

from tests.helpers.messages import FAST


@pytest.fixture
def app_overrides():
    return dict(FAST)
