"""Periodic validation: definitive signals disconnect (with the reason), transient ones never do."""
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, events, live_connections
from tests.helpers.web import text_of

SALES_ADMIN_ROLE = "admin"


def _validate(connection_id):
    from webapp.close_connection.validation import validate
    return validate(connection_id)


def _org_id(connection):
    return connection.close_org_id


def _assert_reason(outcome, expected):
    """Close names no cause for a dead grant: every such disconnect carries the one honest reason."""
    assert outcome == f"disconnected:{expected}"
    assert live_connections() == []


def test_healthy_connection_is_validated_and_caches_refreshed(owner_connected, app):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import utcnow
    _, connection = owner_connected
    connection.last_validated_at = None
    connection.close_users = []
    db.session.commit()
    assert _validate(connection.id) == "ok"
    (row,) = live_connections()
    assert row.last_validated_at is not None and "rep@acme.test" in {u["email"] for u in row.close_users}
    assert row.token_version == 0  # valid beyond the next run: left alone
    row.token_expires_at = utcnow() + timedelta(minutes=10)
    db.session.commit()
    assert _validate(connection.id) == "ok"
    assert live_connections()[0].token_version == 1  # would expire before the next run: rotated now


def test_org_deleted(owner_connected, close_sandbox):
    _, connection = owner_connected
    close_sandbox.control("DELETE", f"/_sandbox/organizations/{_org_id(connection)}")
    _assert_reason(_validate(connection.id), "access_revoked")


def test_connection_owner_left_close_org(owner_connected, close_sandbox):
    _, connection = owner_connected
    close_sandbox.control("DELETE", f"/_sandbox/organizations/{_org_id(connection)}/memberships/dana@acme.test")
    _assert_reason(_validate(connection.id), "access_revoked")


def test_access_revoked_in_close(owner_connected, app, close_sandbox, demo, monkeypatch):
    sent = []

    class FakeSMTP:  # records what would be mailed
        def __init__(self, host, port, timeout):
            sent.append({"host": host})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent[-1]["to"], sent[-1]["subject"] = message["To"], message["Subject"]

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    app.config["SMTP_HOST"] = "mail.test"
    owner, connection = owner_connected
    close_sandbox.control("POST", "/_sandbox/grants/revoke", {"user_email": "dana@acme.test"})
    assert _validate(connection.id) == "disconnected:access_revoked"
    assert sent == [{"host": "mail.test", "to": "owner@acme.test, admin@acme.test",
                     "subject": "Close CRM was disconnected"}]
    page = text_of(owner.get(PAGE))
    assert 'data-state="auto_disconnected"' in page
    assert "Close no longer accepts Closeline's connection to Acme Sales (Close user dana@acme.test)" in page
    assert "Close no longer accepts the connection" in events(demo.acme.id, "auto_disconnected")[0].detail


def test_owner_inactive_in_org_listing_disconnects(owner_connected, app, requests_mock):
    """Close answering 200 for the org but listing the authorizer as inactive: owner gone."""
    _, connection = owner_connected
    requests_mock.get(f"{app.config['CLOSE_API_URL']}/organization/{connection.close_org_id}/", json={
        "id": connection.close_org_id, "name": "Acme Sales", "lead_statuses": [], "memberships": [],
        "inactive_memberships": [{"user_id": connection.close_user_id}]})
    requests_mock.post(app.config["CLOSE_TOKEN_URL"], real_http=True)
    assert _validate(connection.id) == "disconnected:owner_gone"


def test_org_404_disconnects(owner_connected, app, requests_mock):
    _, connection = owner_connected
    requests_mock.get(f"{app.config['CLOSE_API_URL']}/organization/{connection.close_org_id}/", status_code=404,
                      json={"error": "Empty query: Organization matching query does not exist."})
    requests_mock.post(app.config["CLOSE_TOKEN_URL"], real_http=True)
    assert _validate(connection.id) == "disconnected:access_revoked"


def test_permission_lost_later_only_warns(owner_connected, close_sandbox):
    owner, connection = owner_connected
    close_sandbox.control("PUT", f"/_sandbox/roles/{SALES_ADMIN_ROLE}",
                          {"organization_id": _org_id(connection), "remove": ["view_all_leads"]})
    assert _validate(connection.id) == "warning"
    (row,) = live_connections()
    assert "Lead Visibility is not set" in row.permission_warning
    page = text_of(owner.get(PAGE))
    assert 'id="close-permission-warning"' in page and 'data-check="close_permissions" data-ok="no"' in page
    close_sandbox.control("PUT", f"/_sandbox/roles/{SALES_ADMIN_ROLE}",
                          {"organization_id": _org_id(connection), "add": ["view_all_leads"]})
    assert _validate(connection.id) == "ok" and live_connections()[0].permission_warning is None


def test_twenty_transient_failures_never_disconnect(owner_connected, app, close_sandbox, demo):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection, utcnow
    owner, connection = owner_connected
    app.config["CLOSE_TIMEOUT"] = 0.3
    faults = [{"error_rate": 1.0, "error_statuses": [500, 502, 503, 504]}] * 10 + \
             [{"error_rate": 0.0, "latency_ms": 600}] * 5
    outcomes = []
    for i, fault in enumerate(faults):
        # every other round the token is due, so the token endpoint gets the faults too
        if i % 2:
            db.session.execute(sa.update(CloseConnection).values(token_expires_at=utcnow()))
            db.session.commit()
        close_sandbox.control("PUT", "/_sandbox/faults", {"latency_ms": 0, **fault})
        outcomes.append(_validate(connection.id))
    close_sandbox.control("DELETE", "/_sandbox/faults")
    close_sandbox.control("PUT", "/_sandbox/rate-limits", {"group": "*", "limit": 1, "window": 30})
    for _ in range(5):
        outcomes.append(_validate(connection.id))
    assert outcomes.count("unreachable") >= 19 and set(outcomes) <= {"unreachable", "ok"}
    (row,) = live_connections()
    assert row.unreachable_since is not None
    page = text_of(owner.get(PAGE))
    assert "Close unreachable since" in page and "retrying</strong>" in page and "Last successful check" in page
    assert 'data-attention="yes"' in page and "needs attention" in page
    assert events(demo.acme.id, "auto_disconnected") == []
    close_sandbox.control("PUT", "/_sandbox/rate-limits", {"group": "*", "limit": 600, "window": 10})
    assert _validate(connection.id) == "ok"
    assert live_connections()[0].unreachable_since is None


def test_member_who_connected_removed_from_workspace(app, demo, login, connect_as):
    admin = login("admin@acme.test")
    assert "Connected" in text_of(connect_as(admin))
    owner = login("owner@acme.test")
    admin_membership = demo.memberships["admin@acme.test"]
    owner.post(f"/team/members/{admin_membership.id}/remove")
    assert live_connections() == []
    (event,) = events(demo.acme.id, "auto_disconnected")
    assert "removed from the workspace" in event.detail and "Adam Admin" in event.detail
    assert event.actor.email == "owner@acme.test"  # the history says who removed them
    page = text_of(owner.get(PAGE))
    assert 'data-reason="member_removed"' in page
    assert ("Adam Admin (admin@acme.test), who connected Close, was removed from this workspace by Olivia Owner. "
            "Closeline disconnected Acme Sales and withdrew its access at Close") in page
    assert "An owner or admin reconnects with their own Close account" in page
    assert "does not say which" not in page  # Closeline knows this cause: no list of guesses


def test_member_removal_of_someone_else_keeps_connection(owner_connected, demo):
    owner, _ = owner_connected
    owner.post(f"/team/members/{demo.memberships['member@acme.test'].id}/remove")
    assert len(live_connections()) == 1


def test_cron_fans_out_one_job_per_live_connection(owner_connected, app):
    from jobs.connection import validate_all
    from webapp.core.redis_conn import get_queue
    _, connection = owner_connected
    assert validate_all() == 1
    assert get_queue().job_ids == [f"validate-connection-{connection.id}"]


def test_cron_config_registers_validation(app):
    """What `rq cron jobs.cron_config` loads: the validation fan-out every VALIDATION_INTERVAL seconds."""
    from rq.cron import CronScheduler

    from webapp.core.redis_conn import get_redis
    scheduler = CronScheduler(get_redis())
    scheduler.load_config_from_file("jobs.cron_config")
    (job,) = [j for j in scheduler.get_jobs() if j.func_name == "jobs.connection.validate_all"]
    assert job.interval == app.config["VALIDATION_INTERVAL"] == 900
