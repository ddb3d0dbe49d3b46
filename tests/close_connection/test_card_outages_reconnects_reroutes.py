"""What the Close card says after something changed: outages, stale results, reconnects, lead names,
one permission state, plain history, re-routing only to leads that exist."""
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, add_messages, events, live_connections
from tests.helpers.web import text_of

FAULTS = "/_sandbox/faults"


def _db():
    from webapp.core.extensions import db
    db.session.expire_all()
    return db


def _run(demo, kind, connection_id):
    """A JobRun executed in-process: exactly what the worker does."""
    from webapp.close_connection import test_runs
    from webapp.models import JobRun
    db = _db()
    run = JobRun(workspace_id=demo.acme.id, kind=kind, rq_job_id=f"t-{kind}", status="queued",
                 connection_id=connection_id)
    db.session.add(run)
    db.session.commit()
    test_runs.execute(run.id)
    db.session.refresh(run)
    return run


def _drain(demo):
    from webapp.messages.drain import drain_workspace
    drain_workspace(demo.acme.id)


# --- 1. re-route -------------------------------------------------------------------------------------

def test_reroute_to_a_lead_that_does_not_exist_is_refused(owner_connected, demo):
    from webapp.models import ChatLink
    owner, _ = owner_connected
    chat, _ = add_messages(demo, 1, state="skipped", reason="no lead")
    response = owner.post(f"/sync/chats/{chat.id}/reroute", data={"lead_id_typed": "lead_doesnotexist"},
                          follow_redirects=True)
    page = text_of(response)
    assert "There is no lead lead_doesnotexist in Acme Sales" in page and "Nothing was changed" in page
    assert _db().session.scalars(sa.select(ChatLink)).all() == []


def test_lead_picker_finds_leads_by_name_and_reroute_keeps_the_name(owner_connected, demo, login):
    from webapp.models import ChatLink, Message
    owner, _ = owner_connected
    chat, _ = add_messages(demo, 2, state="skipped", reason="no lead")
    page = text_of(owner.get(f"/sync/?chat={chat.id}"))
    assert 'id="reroute-search"' in page and 'placeholder="Search leads by name"' in page
    choices = text_of(owner.get("/sync/leads?lead_query=Bluth", headers={"HX-Request": "true"}))
    assert "Bluth Company" in choices and 'name="lead_id" value="lead_' in choices
    lead_id = choices.split('name="lead_id" value="')[1].split('"')[0]
    assert "No Close lead matches" in text_of(owner.get("/sync/leads?lead_query=zzzqqq"))
    assert login("member@acme.test").get("/sync/leads?lead_query=Bluth").status_code == 403
    done = text_of(owner.post(f"/sync/chats/{chat.id}/reroute", data={"lead_id": lead_id}, follow_redirects=True))
    assert "now goes to the lead Bluth Company" in done and lead_id not in done.split("now goes to")[1][:60]
    link = _db().session.scalar(sa.select(ChatLink))
    assert link.lead_id == lead_id and link.lead_name == "Bluth Company"
    assert {m.state for m in _db().session.scalars(sa.select(Message))} == {"queued"}


# --- 2. outage -------------------------------------------------------------------------------------

def test_outage_banner_comes_from_the_sync_and_clears(owner_connected, demo, close_sandbox, app):
    owner, connection = owner_connected
    app.config["SYNC_INLINE_RETRIES"] = 0
    assert 'id="close-unreachable"' not in text_of(owner.get(PAGE))
    add_messages(demo, 3, state="queued")
    close_sandbox.control("PUT", FAULTS, {"error_rate": 1.0, "error_status": 503})
    _drain(demo)
    (row,) = live_connections()
    assert row.unreachable_since is not None
    page = text_of(owner.get(PAGE))
    assert "Close unreachable since <span" in page
    assert f">{row.unreachable_since.strftime('%H:%M')}</span> UTC, retrying" in page
    assert "3 messages waiting" in page and "needs attention" in page and 'data-attention="yes"' in page
    assert "healthy" not in page

    # A test sync during the outage shows one failed check, never "✓ token valid, ✗ reachable".
    run = _run(demo, "test_sync", connection.id)
    assert [(c["label"], c["ok"]) for c in run.result["checks"]] == [("Close is reachable", False)]

    close_sandbox.control("DELETE", FAULTS)
    _db().session.execute(sa.text("UPDATE messages SET state = 'queued', next_attempt_at = NULL WHERE state = 'failed'"))
    _db().session.commit()
    _drain(demo)
    (row,) = live_connections()
    assert row.unreachable_since is None
    page = text_of(owner.get(PAGE))
    assert 'id="close-unreachable"' not in page and 'data-attention="no"' in page


# --- 3. reconnect ----------------------------------------------------------------------------------

def _status_id(connection, label):
    return next(s["id"] for s in connection.lead_statuses if s["label"] == label)


def test_reconnect_to_the_same_org_keeps_settings(owner_connected, demo, connect_as):
    owner, connection = owner_connected
    qualified = _status_id(connection, "Qualified")
    owner.post(f"{PAGE}settings", htmx=True, data={"auto_create_lead": "", "new_lead_status_id": qualified,
                                                   "sync_attachments": "y", "catch_up_held": "y"})
    owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"})
    page = text_of(connect_as(owner))
    (row,) = live_connections()
    assert row.id != connection.id
    assert row.new_lead_status_id == qualified and row.auto_create_lead is False
    assert f'selected value="{qualified}"' in page or f'value="{qualified}" selected' in page
    assert "Settings start from the defaults" not in page


def test_reconnect_says_when_a_status_no_longer_exists(owner_connected, demo, connect_as):
    owner, connection = owner_connected
    db = _db()
    owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"})
    old = db.session.get(type(connection), connection.id)
    old.new_lead_status_id = "stat_deletedinclose"  # as if the status was deleted in Close meanwhile
    db.session.commit()
    page = text_of(connect_as(owner))
    assert "Status of new leads" in page and "no longer exists in Acme Sales" in page
    (row,) = live_connections()
    assert row.new_lead_status_id is None
    assert any("no longer exists" in e.detail for e in events(demo.acme.id, "settings_changed"))


# --- 4. stale results, 6. one permission state, 8. lead names -----------------------------------------

def test_test_sync_results_belong_to_their_connection(owner_connected, demo, connect_as):
    owner, connection = owner_connected
    run = _run(demo, "test_sync", connection.id)
    assert run.status == "finished"
    assert 'id="close-job"' in text_of(owner.get(PAGE))
    owner.post(f"{PAGE}disconnect", htmx=True, data={"confirm": "yes"})
    page = text_of(owner.get(PAGE))
    assert 'id="close-job"' not in page and "Access token is valid" not in page
    assert 'data-check="close_account" data-ok="unknown"' in page  # nothing from the old connection
    page = text_of(connect_as(owner))
    assert 'id="close-job"' not in page  # the earlier connection's result is not shown as current


def test_lost_permission_is_one_state_one_warning_amber_badge(owner_connected, demo, close_sandbox):
    owner, connection = owner_connected
    close_sandbox.control("PUT", "/_sandbox/roles/admin", {"organization_id": connection.close_org_id,
                                                            "lead_visibility": "own"})
    run = _run(demo, "test_sync", connection.id)
    assert run.status == "failed"
    labels = [c["label"] for c in run.result["checks"]]
    assert len(labels) == len(set(labels))  # each check once
    page = text_of(owner.get(PAGE))
    assert page.count("Lead Visibility is not set") == 1  # one warning
    assert 'data-check="close_permissions" data-ok="no"' in page
    assert "needs attention" in page and 'data-attention="yes"' in page
    assert "dana@acme.test in Acme Sales" in page


def test_test_sync_shows_lead_names(owner_connected, demo, worker):
    owner, connection = owner_connected
    add_messages(demo, 2, state="queued")
    run = _run(demo, "test_sync", connection.id)
    assert run.status == "finished", run.message
    assert {i["lead_name"] for i in run.result["items"]} == {"Bluth Company"}
    page = text_of(owner.get(PAGE))
    assert "Bluth Company" in page
    log = text_of(owner.get("/sync/"))
    assert ">Bluth Company</a>" in log


# --- 7. check connection now -------------------------------------------------------------------------

def test_check_connection_now_is_a_job_for_managers(owner_connected, demo, login):
    from webapp.models import JobRun
    owner, connection = owner_connected
    card = text_of(owner.post(f"{PAGE}check", htmx=True))
    assert 'data-job="running"' in card and "Checking…" in card
    run = _db().session.scalar(sa.select(JobRun))
    assert run.kind == "check" and run.rq_job_id == f"check-connection-{demo.acme.id}"
    assert login("member@acme.test").post(f"{PAGE}check", htmx=True).status_code == 403
    from webapp.close_connection import test_runs
    test_runs.execute(run.id)
    card = text_of(owner.get(PAGE, headers={"HX-Request": "true"}))
    assert "Connection check" in card and "the connection works" in card
    assert events(demo.acme.id, "check")


# --- 10. auto-disconnect, 18. history ----------------------------------------------------------------

def test_auto_disconnect_names_user_and_org_and_offers_reconnect(owner_connected, demo, close_sandbox):
    from webapp.close_connection.validation import validate
    from webapp.models import Notification
    owner, connection = owner_connected
    close_sandbox.control("POST", "/_sandbox/grants/revoke", {"user_email": "dana@acme.test"})
    assert validate(connection.id) == "disconnected:access_revoked"
    assert live_connections() == []
    page = text_of(owner.get(PAGE))
    assert 'id="close-auto-disconnected"' in page and "dana@acme.test" in page and "Acme Sales" in page
    assert ">Reconnect</button>" in page
    note = _db().session.scalars(sa.select(Notification)).first()
    assert "Acme Sales" in note.text and "dana@acme.test" in note.text and note.link == PAGE
    history = text_of(owner.get(f"{PAGE}history", headers={"HX-Request": "true"}))
    assert "invalid_grant" not in history and "orga_" not in history


def test_plain_detail_drops_protocol_words_and_ids():
    from webapp.close_connection.wording import event_label, plain_detail
    assert plain_detail("Token refresh refused: invalid_grant") == \
        "Token refresh refused: Close no longer accepts the access"
    assert plain_detail("Acme Sales (orga_abc123) authorized") == "Acme Sales authorized"
    assert event_label("connect_denied") == "Connect cancelled (Deny on Close)"


# --- 15. retry on a held message -------------------------------------------------------------------

def test_retry_on_a_held_message_explains_why_nothing_happens(app, demo, login):
    from webapp.models import Message
    owner = login("owner@acme.test")
    _, (message,) = add_messages(demo, 1, state="held", reason="Close is not connected")
    log = text_of(owner.post(f"/sync/messages/{message.id}/retry", htmx=True))
    assert 'id="sync-notice"' in log and "held because Close is not connected" in log
    assert _db().session.get(Message, message.id).state == "held"
