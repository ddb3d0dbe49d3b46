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
    add_messages(demo, 3, state="queued")
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
    assert len(items) == 3 and all(i["outcome"] == "sent" for i in items), items
    assert not any("text" in i for i in items)   # the run's row keeps no message text
    lead_url = items[0]["lead_url"]
    assert lead_url.startswith(f"{close_sandbox.url}/lead/lead_")
    card = text_of(owner.get(PAGE, headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 1s"' not in card  # polling stops with the job
    assert "Test sync done: 3 sent to Close now." in card and lead_url in card
    assert events(demo.acme.id, "test_sync")[0].actor_id == demo.users["owner@acme.test"].id


def test_test_sync_sends_only_what_the_live_sync_would_send(owner_connected, demo, app, close_sandbox):
    """Skipped (an excluded phone, allow-list mode) stays skipped and creates no lead; what is
    already in Close is not sent again; the card says which was which."""
    from webapp.close_connection import test_runs
    from webapp.messages import gate
    from webapp.models import JobRun
    owner, connection = owner_connected
    gate.add_entry(demo.acme.id, "phone", "+33612345678")
    _, [excluded] = add_messages(demo, 1, state="skipped", reason=gate.EXCLUDED_PHONE, remote="+33612345678")
    _, [allow_list] = add_messages(demo, 1, state="skipped", reason="Allow-list mode: phone not in Close",
                                   remote="+14155550177")
    _, [waiting] = add_messages(demo, 1, state="queued", remote="+14155550101")
    close_sandbox.control("DELETE", "/_sandbox/requests")
    run = test_runs.start(demo.acme, demo.users["owner@acme.test"], "test_sync")
    test_runs.execute(run.id)
    run = _runs()[-1]
    by_id = {i["message_id"]: i["outcome"] for i in run.result["items"]}
    assert by_id == {excluded.id: "not_sent", allow_list.id: "not_sent", waiting.id: "sent"}, run.result
    sent = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"] if r["method"] == "POST"]
    assert len([r for r in sent if "/activity/whatsapp_message/" in r["path"]]) == 1
    assert not [r for r in sent if r["path"].rstrip("/").endswith("/lead")]      # no lead for a skipped phone
    assert run.message == "Test sync done: 1 sent to Close now, 2 not sent, as the live sync would not send them."
    test_runs.execute(test_runs.start(demo.acme, demo.users["owner@acme.test"], "test_sync").id)
    again = _runs()[-1]
    assert "0 sent to Close now, 1 already in Close (not sent again)" in again.message
    assert again.status == "finished" and JobRun.query.count() == 2


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


def test_check_connection_now_asks_close_once(owner_connected, demo, app, close_sandbox):
    """One validation, one access check: the checklist comes from the validation itself."""
    from webapp.close_connection import test_runs
    close_sandbox.control("DELETE", "/_sandbox/requests")
    run = test_runs.start(demo.acme, demo.users["owner@acme.test"], "check")
    test_runs.execute(run.id)
    run = _runs()[-1]
    assert run.status == "finished", run.message
    asked = [r["path"] for r in close_sandbox.control("GET", "/_sandbox/requests")["data"]
             if "/organization/" in r["path"] or r["path"].endswith("/me/")]
    assert len(asked) == 1, asked
    assert [c["label"] for c in run.result["checks"] if c["ok"]][0] == "Close is reachable and accepts Closeline's access"
