"""What an ended or weakened connection tells people: Close's one answer for three causes is shown
as exactly that (names, the three causes, how to tell, what to do); what Closeline knows itself
(the connecting member removed, a permission lost) is said in its own words, with a history entry
and a notification."""
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, events, live_connections
from tests.helpers.web import text_of

SALES_ADMIN_ROLE = "admin"


def _notifications():
    from webapp.core.extensions import db
    from webapp.models import Notification, User
    return sorted(db.session.execute(sa.select(User.email, Notification.text)
                                     .join(User, User.id == Notification.user_id)).all())


def _validate(connection_id):
    from webapp.close_connection.validation import validate
    return validate(connection_id)


def test_close_side_disconnect_names_user_and_org_and_the_three_causes(owner_connected, demo, close_sandbox,
                                                                       login):
    owner, connection = owner_connected
    close_sandbox.control("POST", "/_sandbox/grants/revoke", {"user_email": "dana@acme.test"})
    assert _validate(connection.id) == "disconnected:access_revoked"
    page = text_of(owner.get(PAGE))
    assert 'data-reason="access_revoked"' in page
    assert "Close no longer accepts Closeline's connection to Acme Sales (Close user dana@acme.test)" in page
    assert ("How to tell: Sign in to Close as dana@acme.test and open Settings → Authorized apps: Closeline is "
            "no longer listed.") in page
    assert "How to tell: dana@acme.test can no longer sign in to Acme Sales" in page
    assert "What to do: Ask an admin of Acme Sales to add dana@acme.test back, or reconnect below" in page
    assert "What to do: Connect another Close organization." in page
    # The people who can act are told the same names, and where the details are.
    texts = _notifications()
    assert [email for email, _ in texts] == ["admin@acme.test", "owner@acme.test"]
    assert all("Close no longer accepts Closeline's connection to Acme Sales (Close user dana@acme.test)" in t
               and "access was revoked in Close, dana@acme.test was removed from Acme Sales, or Acme Sales was "
               "deleted" in t for _, t in texts)
    # A member reads the reason but is told who can reconnect.
    member_page = text_of(login("member@acme.test").get(PAGE))
    assert "Close gives the same answer for three different causes" in member_page
    assert "Ask an owner or admin to reconnect." in member_page


def test_member_removed_disconnect_says_who_and_revokes_the_grant(app, demo, login, connect_as, close_sandbox):
    admin = login("admin@acme.test")
    connect_as(admin)
    owner = login("owner@acme.test")
    owner.post(f"/team/members/{demo.memberships['admin@acme.test'].id}/remove")
    assert live_connections() == []
    assert [g["live"] for g in close_sandbox.control("GET", "/_sandbox/state")["grants"]] == [False]
    (event,) = events(demo.acme.id, "auto_disconnected")
    assert event.actor.email == "owner@acme.test" and "withdrew its access at Close" in event.detail
    (notice,) = [text for email, text in _notifications() if email == "owner@acme.test" and "Close" in text]
    assert notice.startswith("Adam Admin (admin@acme.test), who connected Close, was removed from the "
                                "workspace, so Closeline disconnected Acme Sales (Close user dana@acme.test)")


def test_a_permission_lost_is_a_warning_with_a_history_entry_once(owner_connected, demo, close_sandbox):
    owner, connection = owner_connected
    role = {"organization_id": connection.close_org_id}
    close_sandbox.control("PUT", f"/_sandbox/roles/{SALES_ADMIN_ROLE}", {**role, "remove": ["view_all_leads"]})
    assert _validate(connection.id) == "warning"
    assert _validate(connection.id) == "warning"  # still missing: no second entry, no second notice
    assert len(live_connections()) == 1  # not a disconnect
    (lost,) = events(demo.acme.id, "permission_lost")
    assert "dana@acme.test in Acme Sales no longer has Lead Visibility: All Leads" in lost.detail
    assert [email for email, text in _notifications() if "lost a permission" in text] == \
        ["admin@acme.test", "owner@acme.test"]
    page = text_of(owner.get(PAGE))
    assert "Permission missing in Close" in page and 'data-kind="permission_lost"' in page
    close_sandbox.control("PUT", f"/_sandbox/roles/{SALES_ADMIN_ROLE}", {**role, "add": ["view_all_leads"]})
    assert _validate(connection.id) == "ok"
    (restored,) = events(demo.acme.id, "permission_restored")
    assert "has every permission Closeline needs again" in restored.detail
