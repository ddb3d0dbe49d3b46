"""Run test sync: an RQ job (real worker) with one deterministic id, progress on a JobRun row."""
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, add_messages, events
from tests.helpers.waiting import wait_for
from tests.helpers.web import text_of


def _runs():
    from webapp.core.extensions import db
    from webapp.models import JobRun
    db.session.expire_all()
    return db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()


def _finished():
    runs = _runs()
    return runs if runs and not runs[-1].is_running else None


def test_test_sync_reports_each_message(owner_connected, demo, app, worker, close_sandbox):
    owner, _ = owner_connected
    add_messages(demo, 3)
    add_messages(demo, 1, kind="group", remote="+14155550199")  # group chats are not part of it
    first = text_of(owner.post(f"{PAGE}test-sync", htmx=True))
    second = text_of(owner.post(f"{PAGE}test-sync", htmx=True))  # a second click shows the same job
    assert 'data-job="running"' in first and 'hx-trigger="every 1s"' in first
    assert 'id="close-job"' in second
    wait_for(_finished, timeout=120, message="test sync to finish")
    (run,) = _runs()
    assert run.rq_job_id == f"test-sync-{demo.acme.id}" and run.status == "finished", run.message
    assert run.progress_done == run.progress_total == 3
    assert [c["label"] for c in run.result["checks"] if c["ok"]] == [
        "Close is reachable and accepts Closeline's access", "Lead Visibility: All Leads"]
    items = run.result["items"]
    assert len(items) == 3 and all(i["state"] == "synced" for i in items), items
    lead_url = items[0]["lead_url"]
    assert lead_url.startswith(f"{close_sandbox.url}/lead/lead_")
    card = text_of(owner.get(PAGE, headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 1s"' not in card  # polling stops with the job
    assert "Test sync done: 3 of 3 messages are in Close." in card and lead_url in card
    assert events(demo.acme.id, "test_sync")[0].actor_id == demo.users["owner@acme.test"].id


def test_test_sync_without_messages_runs_checks_only(owner_connected, demo, worker):
    owner, _ = owner_connected
    owner.post(f"{PAGE}test-sync", htmx=True)
    wait_for(_finished, timeout=120, message="test sync to finish")
    (run,) = _runs()
    assert run.status == "finished" and "No messages yet" in run.message
    assert "No messages yet" in text_of(owner.get(PAGE))
    owner.post(f"{PAGE}test-sync", htmx=True)  # the same job id again once the first one ended
    wait_for(lambda: len(_runs()) == 2 and _finished(), timeout=120, message="second test sync")
    assert _runs()[-1].status == "finished"


def test_test_sync_reports_lost_permission(owner_connected, demo, app, close_sandbox):
    """Run in-process (no worker needed): the job stops at the read-only checks."""
    from webapp.close_connection import test_runs
    owner, connection = owner_connected
    close_sandbox.control("PUT", "/_sandbox/roles/admin", {"organization_id": connection.close_org_id,
                                                            "lead_visibility": "own"})
    from webapp.core.extensions import db
    from webapp.models import JobRun
    run = JobRun(workspace_id=demo.acme.id, kind="test_sync", rq_job_id="t", status="queued")
    db.session.add(run)
    db.session.commit()
    test_runs.execute(run.id)
    assert run.status == "failed" and "permission is missing" in run.message
    from tests.helpers.close_connection import live_connections
    assert "Lead Visibility is not set" in live_connections()[0].permission_warning  # the card's one state
