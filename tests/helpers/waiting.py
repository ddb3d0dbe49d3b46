"""The one polling loop of the suite."""
import time


def wait_for(predicate, timeout=120.0, interval=0.05, message="condition"):
    """predicate()'s first truthy value, polled every `interval` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
