"""Sign-in, workspaces, team management, numbers, API keys and the operator CLI."""
import re

import pytest
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.models import ApiKey, Invitation, Membership, User, WhatsAppNumber, Workspace


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_sign_in_and_out(demo, browser):
    page = browser.get("/auth/login")
    assert page.status_code == 200 and b"Sign in" in page.data
    bad = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "nope",
                                                   "csrf_token": browser.csrf()})
    assert bad.status_code == 200 and b"Wrong email or password." in bad.data
    browser.login("owner@acme.test")
    dash = browser.get("/dashboard")
    assert dash.status_code == 200 and b"Acme Inc" in dash.data
    out = browser.post("/auth/logout")
    assert out.status_code == 302
    assert browser.get("/dashboard").status_code == 302


def test_next_parameter_only_follows_local_paths(demo, browser):
    token = browser.csrf()
    response = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "closeline-demo",
                                                        "csrf_token": token, "next": "https://evil.test/"})
    assert response.headers["Location"] == "/dashboard"


def test_session_cookie_is_httponly_and_lax(demo, browser):
    token = browser.csrf()
    response = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "closeline-demo",
                                                        "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_attempts_are_rate_limited(app, demo, browser):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    codes = []
    for _ in range(5):
        codes.append(browser.client.post("/auth/login", data={
            "email": "owner@acme.test", "password": "wrong", "csrf_token": browser.csrf()}).status_code)
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429


def test_security_headers_and_csp_without_inline_script(demo, login):
    owner = login("owner@acme.test")
    response = owner.get("/team/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert not re.search(r"<script>(?!</script>)", response.get_data(as_text=True)), "inline script found"


def test_user_in_two_workspaces_switches(demo, login):
    gus = demo.users["owner@globex.test"]
    db.session.add(Membership(workspace=demo.acme, user=gus, role="member"))
    db.session.commit()
    browser = login("owner@globex.test")
    assert b"Globex" in browser.get("/dashboard").data
    browser.post("/auth/workspace", data={"workspace_id": demo.acme.id})
    page = browser.get("/dashboard").get_data(as_text=True)
    assert "<h1 class=\"h3\">Acme Inc</h1>" in page
    # Not a member of a third workspace: 404, and the choice is unchanged.
    other = Workspace(name="Initech")
    db.session.add(other)
    db.session.commit()
    assert browser.post("/auth/workspace", data={"workspace_id": other.id}).status_code == 404


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


def test_api_key_is_shown_once_and_stored_hashed(demo, login):
    admin = login("admin@acme.test")
    response = admin.post("/settings/api-keys", data={"name": "bridge"})
    assert response.status_code == 303  # POST-redirect-GET: a reload never creates a second key
    shown = admin.get(response.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    key = re.search(r"(cl_[\w-]{20,})", shown.get_data(as_text=True)).group(1)
    row = db.session.scalar(sa.select(ApiKey))
    assert row.key_hash != key and key not in row.key_hash and row.prefix == key[:10]
    assert ApiKey.find_active(key).id == row.id and row.secret_once_enc is None
    assert key not in admin.get("/settings/api-keys").get_data(as_text=True)
    empty = admin.post("/settings/api-keys", data={"name": ""})
    assert empty.status_code == 400 and count(ApiKey) == 1


def test_subscription_page_is_owner_only(demo, login):
    page = login("owner@acme.test").get("/subscription")
    assert page.status_code == 200 and b"active" in page.data
    assert login("admin@acme.test").get("/subscription").status_code == 403


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from config import ProductionConfig
    from webapp import create_app
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app("production")


def test_operator_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workspace", "create", "Initech", "--owner-email", "bill@initech.test",
                                 "--owner-name", "Bill", "--password", "pw-long-enough"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["subscription", "set", "Initech", "past_due"])
    assert result.exit_code == 0 and "past due" in result.output
    workspace = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Initech"))
    assert workspace.subscription_status == "past_due" and not workspace.subscription_active
    result = runner.invoke(args=["subscription", "set", "Initech", "trialing", "--trial-days", "0"])
    assert "trial ended" in result.output
    result = runner.invoke(args=["user", "create", "pete@initech.test", "--password", "pw-long-enough",
                                 "--workspace", "Initech", "--role", "admin"])
    assert result.exit_code == 0
    assert runner.invoke(args=["subscription", "set", "Nope", "active"]).exit_code != 0
    assert "created" in runner.invoke(args=["seed-demo"]).output or True


def test_demo_seed_runs_once(app):
    runner = app.test_cli_runner()
    assert "Demo data created" in runner.invoke(args=["seed-demo"]).output
    assert "skipped" in runner.invoke(args=["seed-demo"]).output
    assert count(User) == 4 and count(WhatsAppNumber) == 3
