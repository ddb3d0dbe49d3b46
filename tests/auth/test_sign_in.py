"""Sign-in and out, where the sign-in form may send you next, and switching workspaces."""
from webapp.core.extensions import db
from webapp.models import Membership, Workspace


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


def test_passwords_outside_tests_are_hashed_with_scrypt(app):
    """The suite signs in with a cheap hash; every other configuration keeps werkzeug's scrypt."""
    from config import CONFIGS
    from webapp.models import User
    assert all(config.PASSWORD_HASH_METHOD == "scrypt" for name, config in CONFIGS.items() if name != "testing")
    user = User(email="hash@acme.test")
    app.config["PASSWORD_HASH_METHOD"] = CONFIGS["production"].PASSWORD_HASH_METHOD
    user.set_password("a long enough password")
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("a long enough password")
