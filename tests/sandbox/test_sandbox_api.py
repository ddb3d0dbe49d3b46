"""Leads, contacts, search, WhatsApp activities, files; visibility and dead credentials."""
from close_sandbox import world as seeded
from tests.helpers.close_sandbox import DANA_SUPPORT_KEY, SALES, SUPPORT, Api, connect, wa_body

SEARCH_CONTACT_BY_PHONE = lambda value: {  # noqa: E731 — the §4.4 query, verbatim shape
    "query": {"type": "and", "queries": [
        {"type": "object_type", "object_type": "contact"},
        {"type": "has_related", "this_object_type": "contact", "related_object_type": "contact_phone",
         "related_query": {"type": "field_condition",
                           "field": {"type": "regular_field", "object_type": "contact_phone", "field_name": "phone"},
                           "condition": {"type": "text", "mode": "exact_value", "value": value}}}]},
    "_fields": {"contact": ["id", "lead_id", "name", "phones"]}, "_limit": 50,
}


def search_leads_by_phone(value, **extra):
    return dict({"query": {"type": "and", "queries": [
        {"type": "object_type", "object_type": "lead"},
        {"type": "has_related", "this_object_type": "lead", "related_object_type": "contact",
         "related_query": {"type": "has_related", "this_object_type": "contact", "related_object_type": "contact_phone",
                           "related_query": {"type": "field_condition",
                                             "field": {"type": "regular_field", "object_type": "contact_phone",
                                                       "field_name": "phone"},
                                             "condition": {"type": "text", "mode": "exact_value", "value": value}}}}]},
        "_fields": {"lead": ["id", "name"]}}, **extra)


def test_lead_create_normalizes_phones(dana):
    resp = dana.post("/lead/", json={"name": "Bluth Company", "contacts": [
        {"name": "Gob", "phones": [{"phone": "8004445555", "type": "office"},
                                   {"phone": "+44 20 7946 0000", "type": "mobile"}]}]})
    assert resp.status_code == 200
    lead = resp.json()
    assert lead["status_label"] == "Potential" and lead["organization_id"] == SALES
    assert lead["contacts"][0]["phones"] == [
        {"phone": "+18004445555", "phone_formatted": "+1 800-444-5555", "country": "US", "type": "office"},
        {"phone": "+442079460000", "phone_formatted": "+44 20 7946 0000", "country": "GB", "type": "mobile"}]
    assert lead["contact_ids"] == [lead["contacts"][0]["id"]]
    assert dana.get(f"/lead/{lead['id']}/").json()["name"] == "Bluth Company"
    bad = dana.post("/lead/", json={"name": "x", "status_id": "stat_nope"})
    assert bad.status_code == 400 and "status" in bad.json()["field-errors"]


def test_lead_list_pagination(dana):
    first = dana.get("/lead/", params={"_limit": 4}).json()
    rest = dana.get("/lead/", params={"_limit": 4, "_skip": 4}).json()
    assert first["has_more"] is True and rest["has_more"] is False
    assert first["total_results"] == 6 and len(first["data"]) + len(rest["data"]) == 6


def test_visibility_own_leads_only(dana, rep, http, sb):
    mine = {seeded.lead_id("initech"), seeded.lead_id("hooli")}
    assert {ld["id"] for ld in rep.get("/lead/").json()["data"]} == mine
    hidden = seeded.lead_id("bluth")
    resp = rep.get(f"/lead/{hidden}/")
    assert resp.status_code == 404 and resp.json() == {"error": "Empty query: Lead matching query does not exist."}
    assert rep.get(f"/contact/{seeded.contact_id('gob')}/").status_code == 404
    found = rep.post("/data/search/", json=search_leads_by_phone("+14155550199")).json()["data"]
    assert [x["id"] for x in found] == [seeded.lead_id("hooli")]
    bad = rep.post("/activity/whatsapp_message/", json=wa_body())
    assert bad.status_code == 400 and bad.json()["field-errors"] == {"lead": "Object does not exist.",
                                                                     "contact": "Object does not exist."}
    role = rep.get("/me/").json()["memberships"][0]
    assert role["role_id"].startswith("role_") and "view_all_leads" not in role["permissions_granted"]
    # flip the role to All Leads through the control API
    sb.control("PUT", f"roles/{role['role_id']}", {"lead_visibility": "all"})
    assert rep.get(f"/lead/{hidden}/").status_code == 200
    # other organizations are never visible
    support_lead = seeded.lead_id("umbrella")
    assert dana.get(f"/lead/{support_lead}/").status_code == 404
    assert Api(http, sb, key=DANA_SUPPORT_KEY).get(f"/lead/{support_lead}/").status_code == 200


SALES_EMAILS = {"dana@acme.test", "rep@acme.test", "mia@acme.test", "admin@acme.test"}


def test_roles_and_organization(dana):
    roles = {r["id"]: r for r in dana.get("/role/").json()["data"]}
    assert {"admin", "superuser", "user", "restricteduser"} <= set(roles)
    custom = [r for r in roles.values() if r["id"].startswith("role_")]
    assert custom and custom[0]["visibility_user_lcf_behavior"] == "require_assignment"
    assert "manage_organization" in roles["admin"]["permissions"] and roles["admin"]["editable"] is False
    org = dana.get(f"/organization/{SALES}/").json()
    assert {m["user_email"] for m in org["memberships"]} == SALES_EMAILS
    assert org["inactive_memberships"] == []
    assert dana.get(f"/organization/{SUPPORT}/").status_code == 404
    users = dana.get("/user/").json()["data"]
    assert {u["email"] for u in users} == SALES_EMAILS


def test_deactivated_membership_gets_401(dana, rep, http, sb):
    tokens = connect(http, sb, email="rep@acme.test")
    bearer = Api(http, sb, token=tokens["access_token"])
    assert bearer.get("/me/").status_code == 200
    sb.control("DELETE", f"organizations/{SALES}/memberships/rep@acme.test")
    for api in (bearer, rep):
        resp = api.get("/me/")
        assert resp.status_code == 401 and resp.json()["error"].startswith("The server could not verify")
    org = dana.get(f"/organization/{SALES}/").json()
    assert [m["user_email"] for m in org["inactive_memberships"]] == ["rep@acme.test"]
    from tests.helpers.close_sandbox import token_request
    refresh = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_deleted_organization_gets_401(dana, http, sb):
    support = Api(http, sb, key=DANA_SUPPORT_KEY)
    sb.control("DELETE", f"organizations/{SALES}")
    assert dana.get("/lead/").status_code == 401
    me = support.get("/me/").json()
    assert [o["name"] for o in me["organizations"]] == ["Acme Support"]


def test_phone_search_matches_mixed_formats(dana):
    expectations = {
        "+14155550101": "gob", "(415) 555-0101": "gob", "4155550102": "michael", "+1 415 555 0102": "michael",
        "+14155550103": "peter", "+442079460958": "hank", "+44 (0)20 7946 0958": "hank",
    }
    for value, contact in expectations.items():
        data = dana.post("/data/search/", json=SEARCH_CONTACT_BY_PHONE(value)).json()["data"]
        assert [c["id"] for c in data] == [seeded.contact_id(contact)], value
        assert data[0]["__object_type"] == "contact" and data[0]["phones"][0]["phone"].startswith("+")
    assert dana.post("/data/search/", json=SEARCH_CONTACT_BY_PHONE("+14155559999")).json()["data"] == []


def test_several_matching_leads_and_cursor(dana):
    resp = dana.post("/data/search/", json=search_leads_by_phone("415-555-0199", include_counts=True, _limit=1))
    body = resp.json()
    assert body["count"] == {"total": 2, "limited": 2} and len(body["data"]) == 1 and body["cursor"]
    nxt = dana.post("/data/search/", json=search_leads_by_phone("415-555-0199", _limit=1, cursor=body["cursor"])).json()
    assert nxt["cursor"] is None
    assert {body["data"][0]["id"], nxt["data"][0]["id"]} == {seeded.lead_id("piedpiper"), seeded.lead_id("hooli")}
    # lead -> contact_phone directly (also used by integrations)
    direct = {"query": {"type": "and", "queries": [
        {"type": "object_type", "object_type": "lead"},
        {"type": "has_related", "this_object_type": "lead", "related_object_type": "contact_phone",
         "related_query": {"type": "field_condition",
                           "field": {"type": "regular_field", "object_type": "contact_phone", "field_name": "phone"},
                           "condition": {"type": "text", "mode": "exact_value", "value": "+14155550199"}}}]}}
    assert len(dana.post("/data/search/", json=direct).json()["data"]) == 2
    bad = dana.post("/data/search/", json={"query": {"type": "magic"}})
    assert bad.status_code == 400


def test_whatsapp_create_list_update_delete(dana, http, sb):
    resp = dana.post("/activity/whatsapp_message/", json=wa_body(local_phone="16503334444",
                                                                remote_phone="(415) 555-0101"))
    assert resp.status_code == 200, resp.text
    act = resp.json()
    assert act["_type"] == "WhatsAppMessage" and act["id"].startswith("acti_")
    assert act["local_phone"] == "+16503334444" and act["local_phone_formatted"] == "+1 650-333-4444"
    assert act["remote_phone"] == "+14155550101" and act["message_html"] == "<p>hi <strong>there</strong></p>"
    assert act["text"] == "hi there" and act["user_id"] == seeded.user_id("dana") and act["source"] == "api"
    assert act["activity_at"] == "2025-02-01T10:00:00.000000+00:00"
    second = dana.post("/activity/whatsapp_message/", json=wa_body(
        external_whatsapp_message_id="wamid.2", direction="incoming", activity_at="2025-02-01T11:00:00+00:00",
        response_to_id=act["id"])).json()
    listed = dana.get("/activity/whatsapp_message/", params={"lead_id": seeded.lead_id("bluth")}).json()
    assert [a["id"] for a in listed["data"]] == [second["id"], act["id"]] and listed["has_more"] is False
    by_ext = dana.get("/activity/whatsapp_message/", params={"external_whatsapp_message_id": "wamid.2"}).json()
    assert [a["id"] for a in by_ext["data"]] == [second["id"]]
    page = dana.get("/activity/whatsapp_message/", params={"_limit": 1}).json()
    assert len(page["data"]) == 1 and page["has_more"] is True
    upd = dana.put(f"/activity/whatsapp_message/{act['id']}/", json={"message_markdown": "edited"})
    assert upd.status_code == 200 and upd.json()["text"] == "edited"
    no = dana.put(f"/activity/whatsapp_message/{act['id']}/", json={"lead_id": seeded.lead_id("dunder")})
    assert no.status_code == 400 and "lead_id" in no.json()["field-errors"]
    assert dana.delete(f"/activity/whatsapp_message/{act['id']}/").json() == {}
    assert dana.get(f"/activity/whatsapp_message/{act['id']}/").status_code == 404
    # the lead page shows the remaining activity
    from tests.helpers.close_sandbox import signed_in
    page = signed_in(sb, "dana@acme.test").get(sb.url + f"/lead/{seeded.lead_id('bluth')}/")
    assert "wamid.2" in page.text and "incoming" in page.text


def test_whatsapp_validation(dana):
    unknown = dana.post("/activity/whatsapp_message/", json=wa_body(bogus="x", note="y"))
    assert unknown.status_code == 400
    assert unknown.json() == {"errors": [], "field-errors": {"bogus": "Unknown field.", "note": "Unknown field."}}
    missing = dana.post("/activity/whatsapp_message/", json={"lead_id": seeded.lead_id("bluth")})
    assert set(missing.json()["field-errors"]) >= {"contact_id", "direction", "activity_at", "message_markdown"}
    wrong = dana.post("/activity/whatsapp_message/", json=wa_body(direction="inbound", remote_phone="abc",
                                                                  contact_id=seeded.contact_id("michael")))
    assert set(wrong.json()["field-errors"]) == {"direction", "remote_phone", "contact"}
    ext = dana.post("/activity/whatsapp_message/", json=wa_body(attachments=[
        {"url": "https://example.com/x.jpg", "filename": "x.jpg", "content_type": "image/jpeg"}]))
    assert ext.status_code == 400 and "attachments" in ext.json()["field-errors"]


def test_files_round_trip_and_limits(dana, http, sb):
    up = dana.post("/files/upload/", json={"filename": "photo.jpg", "content_type": "image/jpeg"}).json()
    assert up["upload"]["url"] == sb.url + "/_s3/upload/"
    assert up["download"]["url"].startswith(sb.url + "/go/file/")
    attachment = {"url": up["download"]["url"], "filename": "photo.jpg", "content_type": "image/jpeg"}
    early = dana.post("/activity/whatsapp_message/", json=wa_body(attachments=[attachment]))
    assert early.status_code == 400 and "attachments" in early.json()["field-errors"]
    payload = b"\xff\xd8jpeg-bytes" * 100
    s3 = http.post(up["upload"]["url"], data=up["upload"]["fields"], files={"file": ("photo.jpg", payload, "image/jpeg")})
    assert s3.status_code == 201
    assert http.get(up["download"]["url"]).content == payload
    act = dana.post("/activity/whatsapp_message/", json=wa_body(attachments=[attachment])).json()
    assert act["attachments"] == [dict(attachment, size=len(payload), thumbnail_url=None)]
    # > 25 MB is refused by the S3 endpoint
    big = dana.post("/files/upload/", json={"filename": "big.bin", "content_type": "application/octet-stream"}).json()
    too_big = http.post(big["upload"]["url"], data=big["upload"]["fields"],
                        files={"file": ("big.bin", b"\0" * (25 * 1024 * 1024 + 1), "application/octet-stream")})
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content
    # two files that are fine alone but exceed 25 MB together
    urls = []
    for name in ("a.bin", "b.bin"):
        u = dana.post("/files/upload/", json={"filename": name, "content_type": "application/octet-stream"}).json()
        assert http.post(u["upload"]["url"], data=u["upload"]["fields"],
                         files={"file": (name, b"\0" * (13 * 1024 * 1024), "application/octet-stream")}).status_code == 201
        urls.append({"url": u["download"]["url"], "filename": name, "content_type": "application/octet-stream"})
    total = dana.post("/activity/whatsapp_message/", json=wa_body(attachments=urls))
    assert total.status_code == 400 and "25 MB" in total.json()["field-errors"]["attachments"]
    # a tampered policy is refused
    bad = dict(up["upload"]["fields"], signature="forged")
    assert http.post(up["upload"]["url"], data=bad, files={"file": ("x", b"x")}).status_code == 403


def test_contacts_crud_and_415(dana):
    c = dana.post("/contact/", json={"name": "Solo", "phones": [{"phone": "415 555 0177", "type": "mobile"}]}).json()
    lead = dana.get(f"/lead/{c['lead_id']}/").json()
    assert lead["name"] == "Solo" and lead["contact_ids"] == [c["id"]]
    assert dana.put(f"/contact/{c['id']}/", json={"phones": []}).json()["phones"] == []
    assert dana.delete(f"/contact/{c['id']}/").json() == {}
    assert dana.get(f"/contact/{c['id']}/").json() == {"error": "Empty query: Contact matching query does not exist."}
    assert dana.post("/lead/", data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
