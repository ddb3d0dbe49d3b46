"""Server-rendered pages: sign-in, roles, lead page."""
import requests

from close_sandbox import world as seeded
from tests.helpers.close_sandbox import SALES, parse_form, signed_in


def test_pages_need_sign_in(sb):
    for path in ("/settings/roles/", "/settings/accounts-and-apps/authorized-apps/", f"/lead/{seeded.lead_id('bluth')}/"):
        resp = requests.get(sb.url + path, allow_redirects=False, timeout=10)
        assert resp.status_code == 302 and "/login/" in resp.headers["Location"]
    page = requests.get(sb.url + "/login/", timeout=10).text
    assert 'name="email"' in page and 'name="password"' in page and ">Sign in</button>" in page


def test_roles_page_changes_lead_visibility_and_manage_org(sb, rep, dana):
    browser = signed_in(sb, "dana@acme.test")
    page = browser.get(sb.url + "/settings/roles/")
    role_id = seeded.stable_id("role_", "field_rep")
    assert f'id="save-{role_id}"' in page.text and "Own leads" in page.text
    csrf = parse_form(page.text).hidden["csrf_token"]
    resp = browser.post(sb.url + f"/settings/roles/{SALES}/{role_id}/",
                        data={"csrf_token": csrf, "lead_visibility": "all_leads", "manage_organization": "on"})
    assert resp.status_code == 200 and "Role saved" in resp.text
    perms = dana.get(f"/role/{role_id}/").json()["permissions"]
    assert "view_all_leads" in perms and "manage_organization" in perms
    assert rep.get(f"/lead/{seeded.lead_id('bluth')}/").status_code == 200
    # system roles are read-only in the UI
    assert browser.post(sb.url + f"/settings/roles/{SALES}/admin/",
                        data={"csrf_token": csrf, "lead_visibility": "own_leads"}).status_code == 403
    # someone without manage_organization cannot edit
    mia = signed_in(sb, "mia@acme.test")
    assert "You need the" in mia.get(sb.url + "/settings/roles/").text


def test_lead_page_respects_visibility(sb):
    rep = signed_in(sb, "rep@acme.test")
    assert rep.get(sb.url + f"/lead/{seeded.lead_id('bluth')}/").status_code == 404
    page = rep.get(sb.url + f"/lead/{seeded.lead_id('initech')}/")
    assert page.status_code == 200 and "Peter Gibbons" in page.text and "+1 415-555-0103" in page.text
