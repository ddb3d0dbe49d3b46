"""Lead ids typed by people (group pins, re-routes) are matched against Close's id pattern before
they reach a Close path, and every id the Close client puts into a path is quoted as one segment:
`../me` can no longer make Closeline call GET /me/."""
import types

import pytest

from tests.helpers.recording_server import RecordingServer
from webapp.clients.close.client import CloseClient, CloseNotFound

HOSTILE_IDS = ["../me", "lead_../me", "lead_abc/../../me", "lead_abc?x=1", "lead_abc#x", "lead_%2e%2e", "lead_",
               "lead_abc def", "LEAD_abc", "lead_a\nb", "lead_ábc"]


@pytest.fixture
def close():
    with RecordingServer() as srv:
        srv.route("/api/v1/lead/lead_abc123/", 200, {"id": "lead_abc123", "contacts": []})
        srv.route("/api/v1/me/", 200, {"id": "user_me", "email": "dana@acme.test"})
        yield srv, CloseClient(srv.url("/api/v1"), api_key="k")


@pytest.mark.parametrize("lead_id", HOSTILE_IDS)
def test_a_hostile_lead_id_never_reaches_close(close, lead_id):
    server, client = close
    with pytest.raises(CloseNotFound):
        client.get_lead(lead_id)
    assert server.hits == []


def test_a_real_lead_id_is_asked_for(close):
    server, client = close
    assert client.get_lead("lead_abc123")["id"] == "lead_abc123"
    assert [hit["path"] for hit in server.hits] == ["/api/v1/lead/lead_abc123/"]


def test_every_path_segment_is_quoted(close):
    server, client = close
    for call in (lambda: client.update_whatsapp_activity("../../me", {}),
                 lambda: client.delete_whatsapp_activity("../../me"),
                 lambda: client.organization("../me"), lambda: client.role("../me")):
        try:
            call()
        except Exception:
            pass   # the recording server answers 404: what matters is the path it was asked for
    paths = [hit["path"] for hit in server.hits]
    assert "/api/v1/me/" not in paths
    assert paths == ["/api/v1/activity/whatsapp_message/..%2F..%2Fme/"] * 2 + \
        ["/api/v1/organization/..%2Fme/", "/api/v1/role/..%2Fme/"]


@pytest.mark.parametrize("lead_id", HOSTILE_IDS)
def test_a_group_pin_refuses_a_hostile_lead_id_before_asking_close(app, lead_id, monkeypatch):
    from webapp.privacy import groups
    monkeypatch.setattr(groups, "_client", lambda workspace_id: pytest.fail("Close was asked"))
    with pytest.raises(groups.GroupError) as caught:
        groups.pin(types.SimpleNamespace(kind="group", workspace_id=1), lead_id)
    assert "lead id" in str(caught.value)


@pytest.mark.parametrize("lead_id", HOSTILE_IDS)
def test_a_reroute_refuses_a_hostile_lead_id_before_asking_close(app, lead_id, monkeypatch):
    from webapp.messages import actions
    monkeypatch.setattr(actions, "lead_in_close", lambda *a: pytest.fail("Close was asked"))
    with pytest.raises(actions.RerouteError):
        actions.reroute_chat(1, 1, lead_id)
