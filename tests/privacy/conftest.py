"""Fixtures of the privacy tests: the sync engine's fast settings (the rules are applied by the engine)."""
import pytest

from tests.helpers.messages import FAST


@pytest.fixture
def app_overrides():
    return dict(FAST)
