"""History import pages: dry run shown before anything happens, confirm enqueues the job, the
progress partial polls while it runs and stops by itself; bad input is refused with a reason."""
import re

import sqlalchemy as sa

from tests.helpers.workers import run_queued


def test_dry_run_confirm_and_progress(app, sandbox_connection, close_sandbox, demo, login, history_source, drain_now):
    from tests.helpers.messages import messages
    from webapp.core.redis_conn import get_queue
    from webapp.history_import import service as history
    admin = login("admin@acme.test")
    number_id = demo.memberships["owner@acme.test"].numbers[0].id
    response = admin.post("/history/dry-run", data={"number_id": number_id, "period": "30", "scope": "all"})
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Dry run in progress" in page and 'hx-trigger="every 2s"' in page   # a job reads gateway and Close
    assert run_queued("jobs.history.plan_import") == ["planned"]
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'class="plan-messages">5<', page) and "Leads that would be created" in page
    assert "Dry run in progress" not in page
    assert messages() == []                                      # a dry run stores nothing
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert admin.post(f"/history/{import_id}/start").status_code == 302
    assert [j.func_name for j in get_queue().jobs] == ["jobs.history.run_import"]
    partial = admin.get(f"/history/{import_id}/progress").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in partial                    # polls while it runs

    from jobs import history as jobs
    assert jobs.run_import(import_id) == "stored"                # what the worker runs
    while history.feed(import_id):
        drain_now(demo.acme.id)
    drain_now(demo.acme.id)
    partial = admin.get(f"/history/{import_id}/progress").get_data(as_text=True)
    assert "Import finished" in partial and "hx-trigger" not in partial   # the poll stops
    assert len([m for m in messages() if m.state == "synced"]) == 5


def test_bad_input_and_roles(app, sandbox_connection, demo, login):
    admin = login("admin@acme.test")
    number_id = demo.memberships["owner@acme.test"].numbers[0].id
    response = admin.post("/history/dry-run", data={"number_id": number_id, "period": "dates", "since": "2025-13-01"})
    assert response.status_code == 303
    assert "give both dates" in admin.get("/history/").get_data(as_text=True)
    response = admin.post("/history/dry-run", data={"number_id": number_id, "period": "7"})
    assert response.status_code == 303                              # no gateway registered here
    assert "linked through a WhatsApp gateway" in admin.get("/history/").get_data(as_text=True)
    member = login("member@acme.test")
    assert member.get("/history/").status_code == 403
    assert member.post("/history/dry-run", data={"number_id": number_id}).status_code == 403


def test_a_dry_run_that_cannot_finish_says_why_and_offers_to_run_again(app, sandbox_connection, close_sandbox, demo,
                                                                       login, history_source):
    from tests.helpers.messages import messages
    from webapp.history_import import service as history
    admin = login("admin@acme.test")
    number_id = demo.memberships["owner@acme.test"].numbers[0].id
    location = admin.post("/history/dry-run", data={"number_id": number_id, "period": "7"}).headers["Location"]

    def gateway_gone(*args, **kwargs):
        raise history.NoHistory("The gateway did not answer (down); try again when it is back.")
    history_source.chats = gateway_gone
    assert run_queued("jobs.history.plan_import") == ["plan_failed"]
    page = admin.get(location).get_data(as_text=True)
    assert "The gateway did not answer" in page and "Run the dry run again" in page
    assert "hx-trigger" not in page.split('id="dry-run-section"')[1].split(">")[0]   # the poll stopped
    import_id = int(location.rstrip("/").split("/")[-1])
    refused = admin.post(f"/history/{import_id}/start", follow_redirects=True).get_data(as_text=True)
    assert "dry run has not finished" in refused and messages() == []


def test_a_dry_run_whose_job_vanished_is_written_off(app, sandbox_connection, demo, login, history_source):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.core.redis_conn import get_queue
    from webapp.models import HistoryImport, utcnow
    admin = login("admin@acme.test")
    number_id = demo.memberships["owner@acme.test"].numbers[0].id
    location = admin.post("/history/dry-run", data={"number_id": number_id, "period": "7"}).headers["Location"]
    get_queue().empty()
    row = db.session.scalar(sa.select(HistoryImport))
    row.created_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    page = admin.get(location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "stopped without reporting" in page and "hx-trigger" not in page
