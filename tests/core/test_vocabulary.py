"""The one state vocabulary: every screen names a state with the same words, and a number's health
is the worst of its gateway link, the Close connection and its messages."""
from types import SimpleNamespace

from webapp.core import vocabulary
from webapp.models import utcnow
from webapp.models.whatsapp import LINK_STATES


def test_worst_of_link_close_and_messages():
    synced = utcnow()
    assert vocabulary.number_health({}, synced).label == "syncing"
    assert vocabulary.number_health({}, None).label == "nothing synced yet"
    # a logged-out number never says "syncing", whatever its messages did before
    assert vocabulary.number_health({}, synced, "failed") == vocabulary.NUMBER["failed"]
    assert vocabulary.number_health({}, synced, "unreachable").label == "gateway unreachable"
    # nor does any number while Close is disconnected, paused or needs attention
    for key in ("auto_disconnected", "not_connected", "paused", "attention"):
        assert vocabulary.number_health({}, synced, "linked", key) == vocabulary.CLOSE[key], key
    # of equally bad states the cause (Close) is named before the effect (failing messages)
    assert vocabulary.number_health({"failed": 2}, synced, "linked", "auto_disconnected").label == \
        "disconnected automatically"
    assert vocabulary.number_health({"failed": 1, "dead": 1}, synced).label == "2 failing"
    assert vocabulary.number_health({"held": 3}, synced, "qr").label == "3 held"
    assert vocabulary.number_health({"queued": 3}, synced).level == "info"


def test_close_condition_and_unknown_states():
    live = SimpleNamespace(unreachable_since=None, permission_warning="")
    assert vocabulary.close_condition("connected", live) == "connected"
    live.unreachable_since = utcnow()
    assert vocabulary.close_condition("connected", live) == "attention"
    assert vocabulary.close_condition("paused", live) == "attention"
    assert vocabulary.close_condition("auto_disconnected", live) == "auto_disconnected"
    assert vocabulary.badge("number", "something new") == ("something new", "secondary")


def test_the_models_read_their_labels_from_the_vocabulary():
    assert LINK_STATES == {state: b.label for state, b in vocabulary.NUMBER.items()}
