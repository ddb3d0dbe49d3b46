"""The team page: invitations, roles and ownership, removing members, everyone's own numbers."""
import re

import pytest
import sqlalchemy as sa

from tests.helpers.rows import count
from webapp.core.extensions import db
from webapp.models import Invitation, Membership, User, WhatsAppNumber


def test_invite_link_creates_member(demo, login, browser):
    owner = login("owner@acme.test")
    response = owner.post("/team/invitations", data={"email": "newbie@acme.test", "role": "member"},
                          follow_redirects=True)
    link = re.search(r"(http://[^ ]+/auth/invite/[\w-]+)", response.get_data(as_text=True)).group(1)
    assert link.startswith("http://127.0.0.1:5000/")   # built from PUBLIC_URL, not the Host header
    path = link.split("127.0.0.1:5000", 1)[-1]
    assert count(Invitation, Invitation.email == "newbie@acme.test") == 1
    form = browser.get(path)
    assert form.status_code == 200 and b"Join Acme Inc" in form.data
    bad = browser.post(path, data={"name": "New", "password": "short", "confirm": "short"})
    assert bad.status_code == 200 and b"between 10 and 200 characters" in bad.data
    assert count(User, User.email == "newbie@acme.test") == 0
    ok = browser.post(path, data={"name": "New Bie", "password": "long-enough-pw", "confirm": "long-enough-pw"})
    assert ok.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "newbie@acme.test"))
    assert user.membership_in(demo.acme.id).role == "member"
    assert browser.get(path).status_code == 404  # single use


def test_invite_form_errors_are_shown_and_nothing_changes(demo, login):
    admin = login("admin@acme.test")
    bad_email = admin.post("/team/invitations", data={"email": "not-an-email", "role": "member"})
    assert bad_email.status_code == 400 and b"Invalid email address." in bad_email.data
    admin_invite = admin.post("/team/invitations", data={"email": "x@acme.test", "role": "admin"})
    assert admin_invite.status_code == 400 and b"Only the owner can invite admins." in admin_invite.data
    existing = admin.post("/team/invitations", data={"email": "member@acme.test", "role": "member"})
    assert existing.status_code == 400 and b"already in the workspace" in existing.data
    assert count(Invitation) == 0


def test_only_owner_changes_roles_and_transfers_ownership(demo, login):
    member = demo.memberships["member@acme.test"]
    owner = login("owner@acme.test")
    assert owner.post(f"/team/members/{member.id}/role", data={"role": "admin"}).status_code == 302
    assert db.session.get(Membership, member.id).role == "admin"
    bad = owner.post(f"/team/members/{member.id}/role", data={"role": "owner"})
    assert bad.status_code == 400 and db.session.get(Membership, member.id).role == "admin"
    assert owner.post(f"/team/members/{member.id}/transfer").status_code == 302
    roles = {m.user.email: m.role for m in db.session.scalars(
        sa.select(Membership).where(Membership.workspace_id == demo.acme.id))}
    assert roles == {"owner@acme.test": "admin", "admin@acme.test": "admin", "member@acme.test": "owner"}


def test_one_owner_per_workspace_is_enforced_by_the_database(demo):
    db.session.add(Membership(workspace=demo.acme, user=demo.users["owner@globex.test"], role="owner"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_admin_removes_members_but_not_admins_or_owner(demo, login):
    admin = login("admin@acme.test")
    owner_m = demo.memberships["owner@acme.test"]
    assert admin.post(f"/team/members/{owner_m.id}/remove").status_code == 400
    member = demo.memberships["member@acme.test"]
    number_id = member.numbers[0].id
    assert admin.post(f"/team/members/{member.id}/remove").status_code == 302
    assert db.session.get(Membership, member.id) is None
    # Their number stays (message history must stay visible), unassigned.
    assert db.session.get(WhatsAppNumber, number_id).membership_id is None


def test_everyone_manages_their_own_numbers(demo, login):
    member = login("member@acme.test")
    bad = member.post("/team/numbers", data={"number": "12"})
    assert bad.status_code == 400 and b"is not a phone number" in bad.data
    dup = member.post("/team/numbers", data={"number": "+14155550001"})
    assert dup.status_code == 400 and b"already registered" in dup.data
    ok = member.post("/team/numbers", data={"number": "+44 20 7946 0000", "label": "UK"})
    assert ok.status_code == 302
    assert count(WhatsAppNumber, WhatsAppNumber.e164 == "+442079460000") == 1
    others = demo.memberships["owner@acme.test"].numbers[0]
    assert member.post(f"/team/numbers/{others.id}/delete").status_code == 403
