"""Holds and releases, retries → dead → retry button, auth failure, re-route + move, review queue,
sweeper, sync_message_now."""

import sqlalchemy as sa

from tests.helpers.messages import activities, body, messages
from tests.helpers.waiting import wait_for


def test_subscription_pause_holds_and_renewal_catches_up_in_order(app, api, sandbox_connection, close_sandbox, drain_now,
                                                                   demo):
    from webapp.core.extensions import db
    from webapp.core.signals import subscription_changed
    api.post(body("before", phone="+14155550101"))
    demo.acme.set_subscription("past_due")
    db.session.commit()
    drain_now(demo.acme.id)  # the queued row is held by the drain, nothing sent
    for i in range(3):
        api.post(body(f"during-{i}", phone="+14155550101"))
    rows = messages()
    assert {m.state for m in rows} == {"held"} and {m.reason for m in rows} == {"subscription inactive"}
    assert activities(close_sandbox) == []
    from webapp.messages.actions import count_held
    assert count_held(demo.acme.id, "subscription") == 4 and count_held(demo.acme.id, "disconnected") == 0
    demo.acme.set_subscription("active")
    db.session.commit()
    subscription_changed.send(demo.acme, old_status="past_due")  # catch-up on → released, in order
    drain_now(demo.acme.id)
    rows = messages()
    assert {m.state for m in rows} == {"synced"}
    order = [a["external_whatsapp_message_id"] for a in sorted(activities(close_sandbox), key=lambda a: a["date_created"])]
    assert order == ["before", "during-0", "during-1", "during-2"]


def test_catch_up_off_keeps_them_held(app, api, connect, drain_now, demo):
    from webapp.core.extensions import db
    from webapp.core.signals import subscription_changed
    connect(catch_up_held=False)
    demo.acme.set_subscription("canceled")
    db.session.commit()
    api.post(body("h-1"))
    demo.acme.set_subscription("active")
    db.session.commit()
    subscription_changed.send(demo.acme, old_status="canceled")
    from webapp.messages.sweeper import sweep
    sweep()
    assert messages()[0].state == "held"


def test_disconnected_hold_and_release_after_reconnect(app, api, demo, connect, close_sandbox, drain_now):
    from webapp.messages.actions import count_held, release_held
    for i in range(3):
        api.post(body(f"d-{i}", phone="+14155550102"))
    assert count_held(demo.acme.id, "disconnected") == 3
    connect()
    assert release_held(demo.acme.id, "disconnected") == 3
    drain_now(demo.acme.id)
    assert {m.state for m in messages()} == {"synced"}


def test_auth_failure_stops_the_batch_and_disconnects(app, api, sandbox_connection, close_sandbox, drain_now, demo,
                                                      monkeypatch):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    for i in range(3):
        api.post(body(f"a-{i}", phone="+14155550101"))
    app.config["CLOSE_API_KEY"] = "api_revoked_or_wrong"
    drain_now(demo.acme.id)
    db.session.expire_all()
    connection = db.session.get(CloseConnection, sandbox_connection.id)
    assert connection.disconnected_at is not None and connection.disconnect_reason == "access_revoked"
    rows = messages()
    assert {(m.state, m.reason) for m in rows} == {("held", "disconnected")}
    assert activities(close_sandbox) == []


def test_transient_failures_back_off_then_dead_then_retry_button(app, api, sandbox_connection, close_sandbox, drain_now,
                                                                 demo, login, monkeypatch):
    app.config["SYNC_MAX_ATTEMPTS"] = 3
    app.config["SYNC_INLINE_RETRIES"] = 0
    api.post(body("t-1", phone="+14155550101"))
    # Close answers reads but fails every create: attempts count (a Close that answers nothing is
    # only probed, and its outage costs the rows no attempt).
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_statuses": [503], "methods": ["POST"]})
    drain_now(demo.acme.id)
    row = messages()[0]
    # A busy machine may let the short backoff (0.3 s) pass while the drain still runs: a second try.
    assert row.state == "failed" and 1 <= row.attempts < 3 and row.next_attempt_at is not None
    assert "Close unreachable" in row.reason

    def dead_after_a_drain():
        drain_now(demo.acme.id)  # due rows only: the backoff decides when the next attempt runs
        return messages()[0].state == "dead"

    wait_for(dead_after_a_drain, timeout=120, interval=0.3, message="the row to give up")
    row = messages()[0]
    assert row.state == "dead" and "gave up after 3 attempts" in row.reason
    close_sandbox.control("DELETE", "/_sandbox/faults")
    member = login("member@acme.test")
    assert member.post(f"/sync/messages/{row.id}/retry").status_code == 403
    admin = login("admin@acme.test")
    response = admin.post(f"/sync/messages/{row.id}/retry", htmx=True)
    assert response.status_code == 200 and "sync-log" in response.get_data(as_text=True)
    assert messages()[0].state == "queued"
    drain_now(demo.acme.id)
    assert messages()[0].state == "synced" and len(activities(close_sandbox, "t-1")) == 1


def test_deleted_lead_is_forgotten_and_the_chat_rerouted_once(app, api, sandbox_connection, close_sandbox, drain_now, demo,
                                                              monkeypatch):
    from webapp.core.extensions import db
    from webapp.models import ChatLink
    api.post(body("r-1", phone="+14155550101"))
    drain_now(demo.acme.id)
    # The linked lead was deleted in Close: the link is dropped and the chat routed again, once.
    link = db.session.scalar(sa.select(ChatLink))
    link.lead_id = "lead_doesnotexist"
    db.session.commit()
    api.post(body("r-2", phone="+14155550101"))
    drain_now(demo.acme.id)
    row = messages(external_id="r-2")[0]
    assert row.state == "synced" and "re-routed" in row.reason


def test_reroute_moves_activities_and_future_messages(app, api, sandbox_connection, close_sandbox, drain_now, demo, ids,
                                                     login):
    from webapp.core.extensions import db
    from webapp.messages import moves
    from webapp.models import ChatLink
    api.post(body("x-1", phone="+14155550199"))
    api.post(body("x-2", phone="+14155550199", reply_to="x-1"))
    drain_now(demo.acme.id)
    assert {m.close_lead_id for m in messages()} == {ids.piedpiper}
    page = login("member@acme.test").get("/sync/").get_data(as_text=True)
    assert "Review queue" in page and "Use " not in page  # members see it, can't act
    admin = login("admin@acme.test")
    page = admin.get("/sync/").get_data(as_text=True)
    assert "Review queue" in page and "Gavin Belson" in page
    # Leads offered by name (read once when the lead was resolved), with their contact
    assert "Use Hooli (contact Gavin Belson)" in page and "Keep Pied Piper" in page
    chat_id = messages()[0].chat_id
    response = admin.post(f"/sync/chats/{chat_id}/reroute", data={"lead_id": ids.hooli, "move_existing": "1"})
    assert response.status_code == 302
    link = db.session.scalar(sa.select(ChatLink))
    assert link.lead_id == ids.hooli and link.source == "manual" and not link.needs_review
    assert link.lead_name == "Hooli"
    assert moves.move_chat_activities(chat_id) == 2  # what the enqueued job runs
    assert activities(close_sandbox, lead_id=ids.piedpiper) == []
    moved = {a["external_whatsapp_message_id"]: a for a in activities(close_sandbox, lead_id=ids.hooli)}
    assert set(moved) == {"x-1", "x-2"} and moved["x-2"]["response_to_id"] == moved["x-1"]["id"]
    rows = {m.external_id: m for m in messages()}
    assert rows["x-1"].close_activity_id == moved["x-1"]["id"] and rows["x-1"].close_lead_id == ids.hooli
    assert moves.move_chat_activities(chat_id) == 0  # idempotent
    api.post(body("x-3", phone="+14155550199"))
    drain_now(demo.acme.id)
    assert messages(external_id="x-3")[0].close_lead_id == ids.hooli
    assert "Review queue" not in admin.get("/sync/").get_data(as_text=True)


def test_resolve_review_keeps_the_pick(app, api, sandbox_connection, close_sandbox, drain_now, demo, login):
    api.post(body("v-1", phone="+14155550199"))
    drain_now(demo.acme.id)
    admin = login("owner@acme.test")
    assert admin.post(f"/sync/chats/{messages()[0].chat_id}/resolve").status_code == 302
    assert "Review queue" not in admin.get("/sync/").get_data(as_text=True)


def test_bad_reroute_is_refused(app, api, sandbox_connection, demo, login, drain_now):
    api.post(body("q-1", phone="+14155550101"))
    admin = login("admin@acme.test")
    chat_id = messages()[0].chat_id
    admin.post(f"/sync/chats/{chat_id}/reroute", data={"lead_id": "not-a-lead"})
    assert "starts with lead_" in admin.get("/sync/").get_data(as_text=True)
    assert admin.post("/sync/chats/99999/reroute", data={"lead_id": "lead_x"}).status_code == 404


def test_sweeper_requeues_stuck_rows(app, api, sandbox_connection, close_sandbox, demo, monkeypatch):
    from webapp.core.extensions import db
    from webapp.core.redis_conn import get_queue
    from webapp.messages import scheduler
    from webapp.messages.sweeper import sweep
    from webapp.models import Message, utcnow
    api.post(body("stuck", phone="+14155550101"))
    get_queue().empty()
    scheduler.release_flag(demo.acme.id)  # the drain job was lost with Redis
    db.session.execute(sa.update(Message).values(lease_until=utcnow()))  # and its lease ran out
    db.session.commit()
    assert sweep() == [demo.acme.id]
    assert get_queue().count == 1
    assert sweep() == [demo.acme.id] and get_queue().count == 1  # the flag prevents doubling


def test_sync_message_now(app, api, sandbox_connection, close_sandbox, demo, ids):
    from webapp.messages.drain import sync_message_now
    api.post(body("now-1", phone="+14155550101"))
    row_id = messages()[0].id
    sync_message_now(row_id)
    row = messages()[0]
    assert row.state == "synced" and row.close_lead_id == ids.bluth and row.reason == ""
    sync_message_now(row_id)  # already synced: no second activity
    assert len(activities(close_sandbox, "now-1")) == 1
    sync_message_now(123456)  # no such message: nothing happens
    assert [m.id for m in messages()] == [row_id]


def test_close_down_trips_the_breaker_instead_of_timing_out_every_row(app, api, sandbox_connection, close_sandbox,
                                                                      drain_now, demo, monkeypatch):
    app.config["SYNC_INLINE_RETRIES"] = 0
    for i in range(10):
        api.post(body(f"cb-{i}", phone="+14155550101"))
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0})
    drain_now(demo.acme.id)
    rows = messages()
    tried, left = rows[:3], rows[3:]
    assert {m.state for m in tried} == {"failed"} and all(m.next_attempt_at for m in tried)
    # The rest of the batch stays queued, its claim not counted as an attempt.
    assert {(m.state, m.attempts) for m in left} == {("queued", 0)}
    calls = close_sandbox.control("GET", "/_sandbox/requests")["data"]
    assert len(calls) == 3  # then the drain stops without calling Close for the others


def test_while_close_is_down_a_drain_makes_one_probe_and_touches_no_row(app, api, sandbox_connection, close_sandbox,
                                                                         drain_now, demo):
    from webapp.core.extensions import db
    from webapp.messages import drain
    from webapp.models import CloseConnection
    app.config.update(SYNC_INLINE_RETRIES=0, SYNC_POOL_SIZE=1)
    phones = [f"+1415555011{i}" for i in range(5)]
    ids = [f"down-{i}" for i in range(10)]
    for i, message_id in enumerate(ids):
        api.post(body(message_id, phone=phones[i % 5]))
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503})
    first = drain.drain_workspace(demo.acme.id)
    assert not first and first.probe_in >= 1  # Close down: come back later, not at once
    before = [(m.id, m.state, m.attempts, m.updated_at) for m in messages()]
    seen = len(close_sandbox.control("GET", "/_sandbox/requests")["data"])
    assert seen == 3
    for _ in range(3):  # the scheduled wake-ups while Close stays down
        again = drain.drain_workspace(demo.acme.id)
        assert not again and again.probe_in >= 1
    calls = close_sandbox.control("GET", "/_sandbox/requests")["data"][seen:]
    assert [(c["method"], c["path"]) for c in calls] == [("GET", "/api/v1/me/")] * 3
    assert [(m.id, m.state, m.attempts, m.updated_at) for m in messages()] == before
    db.session.expire_all()
    assert db.session.get(CloseConnection, sandbox_connection.id).unreachable_since is not None
    close_sandbox.control("DELETE", "/_sandbox/faults")
    from webapp.models import Message, utcnow
    db.session.execute(sa.update(Message).where(Message.state == "failed").values(next_attempt_at=utcnow()))
    db.session.commit()  # the three tried rows are due again
    drain_now(demo.acme.id)
    rows = messages()
    assert {m.state for m in rows} == {"synced"}
    assert sorted(len(activities(close_sandbox, i)) for i in ids) == [1] * 10
    back = close_sandbox.control("GET", "/_sandbox/requests")["data"][seen + 3:]
    assert (back[0]["method"], back[0]["path"]) == ("GET", "/api/v1/me/")  # the probe, then the rows
    db.session.expire_all()
    assert db.session.get(CloseConnection, sandbox_connection.id).unreachable_since is None


def test_maintained_totals_match_a_recount(app, api, sandbox_connection, close_sandbox, drain_now, demo, monkeypatch):
    from webapp.messages import actions, totals
    app.config["SYNC_INLINE_RETRIES"] = 0
    app.config["SYNC_MAX_ATTEMPTS"] = 1

    def recount():
        totals.invalidate_totals(demo.acme.id)
        return totals.totals(demo.acme.id)

    assert totals.totals(demo.acme.id)["queued"] == 0  # cached from here on
    api.post({"messages": [body(f"tc-{i}", phone="+14155550101") for i in range(6)]}, path="/api/v1/messages/batch")
    api.post(body("tc-g", kind="group", phone=None, chat_id="g"))
    cached = totals.totals(demo.acme.id)
    assert cached["queued"] == 6 and cached["skipped"] == 1
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "methods": ["POST"]})
    drain_now(demo.acme.id)
    assert totals.totals(demo.acme.id) == recount() and recount()["dead"] == 6
    close_sandbox.control("DELETE", "/_sandbox/faults")
    totals.totals(demo.acme.id)
    actions.retry_messages(demo.acme.id)
    totals.totals(demo.acme.id)
    drain_now(demo.acme.id)
    assert totals.totals(demo.acme.id) == recount() and recount()["synced"] == 6


def test_a_claim_holds_back_chats_leased_by_others_but_not_its_own(app, api, sandbox_connection, demo):
    """Chat A's first row is leased by another drain (or a worker that died): A's later rows wait.
    Chat B's first row is leased by this drain: its later rows are claimed with the rest (the
    drain's lane keeps B in order), and rows are claimed oldest first."""
    from webapp.messages import outbox
    for i in range(3):
        api.post(body(f"a-{i}", phone="+14155550101"))
        api.post(body(f"b-{i}", phone="+14155550102"))
    rows = {m.external_id: m.id for m in messages()}
    others = outbox.claim_one(rows["a-0"], 60)
    assert others
    mine = outbox.claim_batch(demo.acme.id, 1, 60)
    assert mine == [rows["b-0"]]
    claimed = outbox.claim_batch(demo.acme.id, 10, 60, own={rows["b-0"]})
    assert claimed == [rows["b-1"], rows["b-2"]]
    assert outbox.claim_batch(demo.acme.id, 10, 60) == []   # A still waits for the other lease


def _run_queued_jobs():
    """What a worker does, here: every queued job, in this process (the test's app and database)."""
    from rq import SimpleWorker

    from webapp.core.redis_conn import get_queue
    queue = get_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_a_move_shows_its_progress_says_why_it_stopped_and_can_be_resumed(app, api, sandbox_connection, close_sandbox,
                                                                         drain_now, demo, ids, login):
    from rq.job import Job

    from webapp.core.redis_conn import get_queue, get_redis
    app.config["SYNC_INLINE_RETRIES"] = 0
    api.post(body("m-1", phone="+14155550199"))
    api.post(body("m-2", phone="+14155550199"))
    drain_now(demo.acme.id)
    chat_id = messages()[0].chat_id
    admin = login("admin@acme.test")
    admin.post(f"/sync/chats/{chat_id}/reroute", data={"lead_id": ids.hooli, "move_existing": "1"})
    page = admin.get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    assert "Moving this chat's synced messages to Hooli: 2 left" in page
    assert f'hx-get="/sync/chats/{chat_id}/move" hx-trigger="every 2s"' in page  # polls while it runs

    # Close is down: the job waits for its next try, and the page says why it is not done yet.
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503})
    _run_queued_jobs()
    fragment = admin.get(f"/sync/chats/{chat_id}/move").get_data(as_text=True)
    assert "2 left" in fragment and "The last try failed (503" in fragment and "hx-trigger" in fragment

    # It has used up its retries: the page says so and why, and offers the rest.
    job = Job.fetch(f"move-chat-{chat_id}", connection=get_redis())
    job.retries_left = 0
    job.save()
    get_queue().enqueue_job(job)  # its next try now, not in 30 s
    _run_queued_jobs()
    fragment = admin.get(f"/sync/chats/{chat_id}/move").get_data(as_text=True)
    assert "The move stopped after its retries" in fragment and "503" in fragment
    assert "2 synced message(s) are still on the previous lead" in fragment and 'id="move-again"' in fragment
    assert "hx-trigger" not in fragment  # nothing runs: no polling

    # Close is back: "Move the rest" finishes the job, and the page says where everything is.
    close_sandbox.control("DELETE", "/_sandbox/faults")
    assert admin.post(f"/sync/chats/{chat_id}/move").status_code == 302
    _run_queued_jobs()
    fragment = admin.get(f"/sync/chats/{chat_id}/move").get_data(as_text=True)
    assert "Every synced message of this chat is on Hooli" in fragment
    assert {a["external_whatsapp_message_id"] for a in activities(close_sandbox, lead_id=ids.hooli)} == {"m-1", "m-2"}
    assert activities(close_sandbox, lead_id=ids.piedpiper) == []


def test_a_reroute_without_moving_offers_the_move_later(app, api, sandbox_connection, close_sandbox, drain_now, demo, ids,
                                                        login):
    api.post(body("k-1", phone="+14155550199"))
    drain_now(demo.acme.id)
    chat_id = messages()[0].chat_id
    admin = login("admin@acme.test")
    admin.post(f"/sync/chats/{chat_id}/reroute", data={"lead_id": ids.hooli})
    page = admin.get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    assert "1 synced message(s) of this chat are on another lead than Hooli" in page and 'id="move-start"' in page
    member_page = login("member@acme.test").get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    assert 'id="move-status"' not in member_page
    assert login("member@acme.test").post(f"/sync/chats/{chat_id}/move").status_code == 403


def test_a_reply_that_overtakes_its_original_still_points_at_it(app, api, sandbox_connection, close_sandbox,
                                                                drain_now, demo):
    """Webhooks arrive concurrently: the reply can be stored first. It goes to Close at once, and
    its activity is pointed at the original's (PUT response_to_id) when the original lands."""
    from tests.helpers.messages import activities, body, messages
    from tests.helpers.waiting import wait_for
    reply = body("reply-1", text="Here it is", direction="outgoing")
    reply["message"]["reply_to"] = "question-1"
    assert api.post(reply).status_code == 202
    assert api.post(body("question-1", text="Can you send the quote?")).status_code == 202

    def reply_synced():
        drain_now(demo.acme.id)
        return [m for m in messages(external_id="reply-1") if m.state == "synced"]
    wait_for(reply_synced, timeout=30, interval=0.5, message="the reply to sync after its original")
    wait_for(lambda: drain_now(demo.acme.id) or [m for m in messages(external_id="question-1") if m.state == "synced"],
             timeout=30, interval=0.5, message="the original to sync")
    [question] = activities(close_sandbox, external_id="question-1")
    [answer] = activities(close_sandbox, external_id="reply-1")
    assert answer["response_to_id"] == question["id"]
    puts = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"]
            if r["method"] == "PUT" and answer["id"] in r["path"]]
    assert len(puts) == 1  # created without the link first, then linked once; nothing else changed
