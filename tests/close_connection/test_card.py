"""The card's states and actions: settings, disconnect, reconnect, held messages, paused, history."""
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, add_messages, events, live_connections
from tests.helpers.web import text_of


def test_settings_change_is_saved_and_audited(owner_connected, demo):
    owner, connection = owner_connected
    qualified = next(s["id"] for s in connection.lead_statuses if s["label"] == "Qualified")
    response = owner.post(f"{PAGE}settings", htmx=True, data={
        "auto_create_lead": "y", "new_lead_status_id": qualified, "catch_up_held": "y"})
    assert response.status_code == 200 and "Settings saved" in text_of(response)
    (row,) = live_connections()
    assert (row.new_lead_status_id, row.sync_attachments, row.auto_create_lead) == (qualified, False, True)
    (event,) = events(demo.acme.id, "settings_changed")
    assert "Status of new leads: Close default → Qualified" in event.detail
    assert "Sync attachments: on → off" in event.detail and event.actor_id == demo.users["owner@acme.test"].id


def test_bad_status_is_refused_next_to_the_field(owner_connected, demo):
    owner, _ = owner_connected
    response = owner.post(f"{PAGE}settings", htmx=True, data={"new_lead_status_id": "stat_forged"})
    page = text_of(response)
    assert response.status_code == 200
    assert 'class="form-select is-invalid"' in page and "Pick one of the organization's lead statuses." in page
    (row,) = live_connections()
    assert row.new_lead_status_id is None and row.auto_create_lead is True and row.sync_attachments is True
    assert events(demo.acme.id, "settings_changed") == []


def test_disconnect_needs_confirmation_then_revokes(owner_connected, demo, close_sandbox):
    owner, connection = owner_connected
    assert 'id="close-disconnect-confirm"' in text_of(owner.get(f"{PAGE}disconnect"))  # works without JS too
    confirm = text_of(owner.get(f"{PAGE}disconnect", headers={"HX-Request": "true"}))
    assert 'id="close-disconnect-confirm"' in confirm and "Everything already synced stays in Close" in confirm
    assert len(live_connections()) == 1
    assert "Confirm the disconnect" in text_of(owner.post(f"{PAGE}disconnect", htmx=True))  # no confirm field
    assert len(live_connections()) == 1
    done = text_of(owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"}))
    assert 'data-state="not_connected"' in done and 'id="close-connect"' in done
    from webapp.core.extensions import db
    db.session.refresh(connection)
    assert connection.disconnect_reason == "user" and connection.access_token_enc is None
    assert connection.refresh_token_enc is None
    assert connection.disconnected_by_id == demo.users["owner@acme.test"].id
    detail = events(demo.acme.id, "disconnected")[0].detail
    assert "access revoked at Close" in detail and "Olivia Owner" not in detail  # the actor is its own column
    assert [g["revoked"] for g in close_sandbox.control("GET", "/_sandbox/state")["grants"]] == [True]


def test_disconnect_works_when_close_is_unreachable(owner_connected, demo, close_sandbox):
    owner, connection = owner_connected
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503,
                                                       "paths": ["/oauth2/revoke/"]})
    done = text_of(owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"}))
    assert 'data-state="not_connected"' in done
    assert live_connections() == []
    assert "tokens deleted here" in events(demo.acme.id, "disconnected")[0].detail


def test_reconnect_keeps_chat_links_and_offers_held_messages(owner_connected, demo, connect_as):
    from webapp.core.extensions import db
    from webapp.models import ChatLink
    owner, connection = owner_connected
    chat, _ = add_messages(demo, 3, state="held", reason="disconnected")
    db.session.add(ChatLink(workspace_id=demo.acme.id, chat_id=chat.id, close_org_id=connection.close_org_id,
                            lead_id="lead_x", contact_id="cont_x"))
    db.session.commit()
    owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"})
    page = text_of(connect_as(owner))
    assert "Sync 3 held messages" in page and "3 messages arrived while Close was disconnected" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChatLink)) == 1
    assert live_connections()[0].close_org_id == connection.close_org_id


def test_paused_while_subscription_inactive_then_back(owner_connected, demo):
    from webapp.core.extensions import db
    from webapp.core.signals import subscription_changed
    owner, _ = owner_connected
    demo.acme.set_subscription("past_due")
    db.session.commit()
    page = text_of(owner.get(PAGE))
    assert 'data-state="paused"' in page and "sync after the subscription is renewed" in page
    assert 'id="close-test-sync" disabled' in page and "Test sync is disabled while the subscription" in page
    assert "paused" in text_of(owner.post(f"{PAGE}test-sync", htmx=True))
    demo.acme.set_subscription("active")
    db.session.commit()
    subscription_changed.send(demo.acme, old_status="past_due")
    page = text_of(owner.get(PAGE))
    assert 'data-state="connected"' in page and 'id="close-test-sync" disabled' not in page
    assert len(live_connections()) == 1


def test_history_lists_events_with_actor(owner_connected, demo):
    owner, _ = owner_connected
    owner.post(f"{PAGE}settings", htmx=True, data={"auto_create_lead": ""})
    owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"})
    fragment = text_of(owner.get(f"{PAGE}history", headers={"HX-Request": "true"}))
    for text in ("Connected", "Settings", "Disconnected", "Olivia Owner", "Acme Sales"):
        assert text in fragment
    assert fragment.index("Disconnected") < fragment.index("Settings")  # newest first
    assert fragment.count("Olivia Owner") == 3  # once per entry: no "Olivia Owner: by Olivia Owner"
    assert "orga_" not in fragment and "by Olivia Owner" not in fragment


def test_catch_up_releases_held_messages(owner_connected, demo):
    from webapp.close_connection import test_runs
    from webapp.core.extensions import db
    from webapp.models import JobRun, Message
    owner, _ = owner_connected
    add_messages(demo, 4, state="held", reason="disconnected")
    assert "Sync 4 held messages" in text_of(owner.get(PAGE))
    card = text_of(owner.post(f"{PAGE}catch-up", htmx=True))
    assert 'data-job="running"' in card
    run = db.session.scalar(sa.select(JobRun))
    assert run.kind == "catch_up" and run.rq_job_id == f"catch-up-{demo.acme.id}"
    test_runs.execute(run.id)  # in-process: what the worker would do
    assert run.status == "finished" and "4 held messages were queued" in run.message
    states = db.session.scalars(sa.select(Message.state)).all()
    assert states == ["queued"] * 4
    assert "Sync 4 held messages" not in text_of(owner.get(PAGE))
