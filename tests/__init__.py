"""The test suite (see tests/conftest.py; plain helpers in tests.helpers)."""
import pytest

# The helpers assert (a CSRF token on the page, a 302 after consent…): show pytest's full explanation.
# Registered here, before anything imports them.
pytest.register_assert_rewrite("tests.helpers")
