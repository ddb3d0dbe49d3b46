"""Each member's Close user: matched by email, else picked by an owner/admin from the connected
organization's active users (the list a job read from Close), carried as the activity's `user_id`,
flagged with the fix when missing, and matched again when another organization is connected."""
import pytest
import sqlalchemy as sa

from tests.helpers.close_connection import events
from tests.helpers.messages import FAST, activities, body, messages, sandbox_ids
from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.models import CloseConnection, JobRun, Membership

TEAM = "/team/"


@pytest.fixture
def app_overrides():
    return dict(FAST)  # connection rows without OAuth tokens sync with the sandbox's API key


def _mia_id():
    from close_sandbox import world
    return world.user_id("mia")


def _cell(page, membership):
    """The Close-user cell of one member's row."""
    row = page.split(f'id="member-{membership.id}"', 1)[1].split("</tr>", 1)[0]
    return row.split('class="close-user"', 1)[1]


def test_members_are_matched_by_email_and_the_others_flagged_with_the_fix(owner_connected, demo):
    owner, _ = owner_connected
    page = text_of(owner.get(TEAM))
    # Adam is admin@acme.test in Closeline and in Close: matched.
    assert "Adam Admin <admin@acme.test>" in _cell(page, demo.memberships["admin@acme.test"])
    assert "same email in Close" in _cell(page, demo.memberships["admin@acme.test"])
    # Mia is member@acme.test here and mia@acme.test in Close: flagged, her same-name user offered.
    mia = _cell(page, demo.memberships["member@acme.test"])
    assert "no Close user" in mia and "Perhaps Mia Member <mia@acme.test> (same name, other email)" in mia
    assert "go to Close as Dana Scully, who connected Close" in mia
    assert f'<option value="{_mia_id()}" selected>' in mia  # the suggestion is pre-selected, not applied
    assert "2 members have no Close user" in page and "Pick each one" in page
    assert demo.memberships["member@acme.test"].close_user_id is None


def test_owner_picks_a_close_user_and_the_member_sees_who_they_are_in_close(owner_connected, demo, login):
    owner, connection = owner_connected
    mia = demo.memberships["member@acme.test"]
    member = login("member@acme.test")
    before = text_of(member.get(TEAM))
    assert "You in Close: <strong>no Close user</strong> in Acme Sales" in before
    assert "Ask an owner or admin to pick your Close user" in before
    assert member.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": _mia_id()}).status_code == 403

    done = owner.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": _mia_id()}, follow_redirects=True)
    assert "Mia Member's messages now go to Close as Mia Member <mia@acme.test>." in text_of(done)
    row = db.session.get(Membership, mia.id)
    assert (row.close_user_id, row.close_user_org_id) == (_mia_id(), connection.close_org_id)
    (event,) = events(demo.acme.id, "close_user_chosen")
    assert "Mia Member's messages go to Close as Mia Member <mia@acme.test>" in event.detail
    assert event.actor.email == "owner@acme.test"
    after = text_of(member.get(TEAM))
    assert "You in Close: <strong>Mia Member <mia@acme.test></strong> in Acme Sales" in after
    assert "picked by an owner or admin" in after

    # Back to matching by email: none matches, flagged again.
    owner.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": ""})
    assert db.session.get(Membership, mia.id).close_user_id is None
    assert "no Close user" in _cell(text_of(owner.get(TEAM)), mia)


def test_a_user_not_in_the_organization_is_refused_and_nothing_changes(owner_connected, demo):
    owner, _ = owner_connected
    mia = demo.memberships["member@acme.test"]
    refused = owner.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": "user_someone_else"})
    assert refused.status_code == 400
    assert "not an active user of Acme Sales" in text_of(refused) and "Refresh the list" in text_of(refused)
    assert db.session.get(Membership, mia.id).close_user_id is None


def test_without_a_connection_nobody_has_a_close_user_and_the_page_says_why(demo, login):
    page = text_of(login("owner@acme.test").get(TEAM))
    assert "Close is not connected, so members have no Close user yet" in page
    assert "You in Close: nobody yet (Close is not connected)." in page
    member = demo.memberships["member@acme.test"]
    refused = login("owner@acme.test").post(f"/team/members/{member.id}/close-user", data={"close_user_id": "x"})
    assert refused.status_code == 400 and "Connect Close first" in text_of(refused)


def test_picked_user_carries_the_messages_user_id_to_close(app, api, connect, close_sandbox, drain_now, demo,
                                                           login):
    connect()
    mia = demo.memberships["member@acme.test"]
    login("admin@acme.test").post(f"/team/members/{mia.id}/close-user", data={"close_user_id": _mia_id()})
    api.post(body("from-mia", phone="+14155550101", number="+14155550003", text="Hi from Mia"))
    api.post(body("from-adam", phone="+14155550101", number="+14155550002", text="Hi from Adam"))
    drain_now(demo.acme.id)
    assert {m.external_id: m.state for m in messages()} == {"from-mia": "synced", "from-adam": "synced"}
    assert activities(close_sandbox, "from-mia")[0]["user_id"] == _mia_id()
    assert activities(close_sandbox, "from-adam")[0]["user_id"] == sandbox_ids().rep  # the fixture's pick


def test_another_organization_matches_members_again(owner_connected, demo):
    """A pick belongs to its organization: connected to another one, the member is matched by email."""
    owner, connection = owner_connected
    mia = demo.memberships["member@acme.test"]
    owner.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": _mia_id()})
    row = db.session.get(CloseConnection, connection.id)
    row.close_org_id, row.close_org_name = "orga_other", "Acme Support"
    row.close_users = [{"id": "user_sam", "email": "sam@acme.test", "name": "Sam Support"},
                       {"id": "user_mia2", "email": "member@acme.test", "name": "Mia M."}]
    db.session.commit()
    cell = _cell(text_of(owner.get(TEAM)), mia)
    assert "Mia M. <member@acme.test>" in cell and "same email in Close" in cell
    row.close_users = [{"id": "user_sam", "email": "sam@acme.test", "name": "Sam Support"}]
    db.session.commit()
    assert "no Close user" in _cell(text_of(owner.get(TEAM)), mia)


def test_refreshing_the_list_is_a_job_and_a_user_who_left_is_flagged(owner_connected, demo, close_sandbox):
    from webapp.close_connection import test_runs
    owner, connection = owner_connected
    mia = demo.memberships["member@acme.test"]
    owner.post(f"/team/members/{mia.id}/close-user", data={"close_user_id": _mia_id()})
    close_sandbox.control("DELETE", f"/_sandbox/organizations/{connection.close_org_id}/memberships/mia@acme.test")
    close_sandbox.control("DELETE", "/_sandbox/requests")
    started = owner.post("/team/close-users/refresh")
    assert started.status_code == 302 and started.headers["Location"].endswith("/team/#team-close-users")
    assert close_sandbox.control("GET", "/_sandbox/requests")["data"] == []  # the request itself asked Close nothing
    run = db.session.scalar(sa.select(JobRun).where(JobRun.kind == "check"))
    page = text_of(owner.get(TEAM))
    assert f'/team/close-users/status?run={run.id}' in page and "Reading the organization's users" in page
    test_runs.execute(run.id)  # the worker's part, in-process
    assert owner.get(f"/team/close-users/status?run={run.id}", headers={"HX-Request": "true"}) \
        .headers["HX-Refresh"] == "true"
    cell = _cell(text_of(owner.get(TEAM)), mia)
    assert "The Close user picked earlier is no longer an active user of Acme Sales" in cell
    assert "mia@acme.test" not in {u["email"] for u in db.session.get(CloseConnection, connection.id).close_users}


def test_the_account_page_says_who_you_are_in_close(owner_connected, demo, login):
    admin = text_of(login("admin@acme.test").get("/settings/account"))
    assert "You in Close: <strong>Adam Admin <admin@acme.test></strong> in Acme Sales" in admin
    member = text_of(login("member@acme.test").get("/settings/account"))
    assert "You in Close: <strong>no Close user</strong> in Acme Sales" in member
    assert "Ask an owner or admin to pick your Close user on the Team page." in member
