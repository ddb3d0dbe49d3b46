"""The sandbox is no kinder than real Close: strict role lookups, a lagging search
index, phones read in the organization's country, strict WhatsApp fields, path+method rate limits."""
from close_sandbox import world as seeded
from tests.helpers.close_sandbox import REP_SALES_KEY, SALES, Api, connect, wa_body


def _phone_search(api, value):
    return api.post("/data/search/", json={
        "query": {"type": "and", "queries": [
            {"type": "object_type", "object_type": "contact"},
            {"type": "has_related", "this_object_type": "contact", "related_object_type": "contact_phone",
             "related_query": {"type": "field_condition",
                               "field": {"type": "regular_field", "object_type": "contact_phone",
                                         "field_name": "phone"},
                               "condition": {"type": "text", "mode": "exact_value", "value": value}}}]},
        "_fields": {"contact": ["id", "lead_id", "phones"]}, "_limit": 10}).json()["data"]


def test_builtin_roles_only_through_the_list_in_strict_mode(dana):
    roles = {r["id"]: r for r in dana.get("/role/").json()["data"]}
    for builtin in ("admin", "superuser", "user", "restricteduser"):
        assert dana.get(f"/role/{builtin}/").status_code == 404
    custom = next(r for r in roles if r.startswith("role_"))
    assert dana.get(f"/role/{custom}/").status_code == 200
    # permissions as a real role listing shows them
    assert "view_all_leads" in roles["restricteduser"]["permissions"]
    admin, superuser = set(roles["admin"]["permissions"]), set(roles["superuser"]["permissions"])
    assert admin - superuser == {"manage_organization"} and "view_all_leads" in superuser


def test_new_contacts_are_searchable_only_after_the_index_delay(sb, dana):
    sb.control("PUT", "search-index", {"delay": 3})
    lead = dana.post("/lead/", json={"name": "Fresh", "contacts": [
        {"name": "New", "phones": [{"phone": "+14155550177", "type": "mobile"}]}]}).json()
    assert dana.get(f"/lead/{lead['id']}/").status_code == 200  # the object itself exists at once
    assert _phone_search(dana, "+14155550177") == []
    sb.control("POST", "clock", {"advance": 3.5})
    assert [c["lead_id"] for c in _phone_search(dana, "+14155550177")] == [lead["id"]]
    assert sb.control("GET", "search-index") == {"delay": 3.0}


def test_phones_are_read_in_the_organizations_country_and_kept_when_unparseable(sb, dana):
    sb.control("PUT", f"organizations/{SALES}", {"country": "GB"})
    lead = dana.post("/lead/", json={"name": "UK", "contacts": [
        {"name": "Local", "phones": [{"phone": "020 7946 0321", "type": "office"},
                                     {"phone": "ext. 12", "type": "other"}]}]}).json()
    phones = lead["contacts"][0]["phones"]
    assert phones[0]["phone"] == "+442079460321" and phones[0]["country"] == "GB"
    assert phones[1]["phone"] == "ext. 12" and phones[1]["country"] is None
    assert [c["lead_id"] for c in _phone_search(dana, "+442079460321")] == [lead["id"]]


def test_strict_whatsapp_fields(sb, dana):
    body = wa_body(message_markdown="")
    resp = dana.post("/activity/whatsapp_message/", json=body)
    assert resp.status_code == 400 and "message_markdown" in resp.json()["field-errors"]
    assert sb.app.config["MAX_ATTACHMENT_BYTES"] == 25_000_000
    # a Close user whose membership is deactivated can't be the author
    sb.control("DELETE", f"organizations/{SALES}/memberships/mia@acme.test")
    body = wa_body(user_id=seeded.user_id("mia"))
    resp = dana.post("/activity/whatsapp_message/", json=body)
    assert resp.status_code == 400 and "user" in resp.json()["field-errors"]
    body.pop("user_id")
    # send_to_inbox and integration_link are accepted as the reference says
    body.update(direction="incoming", integration_link="https://closeline.test/sync/messages/1")
    resp = dana.post("/activity/whatsapp_message/?send_to_inbox=true", json=body)
    assert resp.status_code == 200 and resp.json()["integration_link"].endswith("/sync/messages/1")


def test_rate_limit_groups_by_path_and_method(sb, dana, http):
    sb.control("PUT", "rate-limits", {"group": "activity:POST", "limit": 1, "window": 30})
    assert dana.post("/activity/whatsapp_message/", json=wa_body(external_whatsapp_message_id="a")
                     ).status_code == 200
    limited = dana.post("/activity/whatsapp_message/", json=wa_body(external_whatsapp_message_id="b"))
    assert limited.status_code == 429 and limited.headers["ratelimit"].startswith("limit=1, remaining=0")
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["rate_endpoint_group"] == "activity:POST"
    # reads of the same path are another group
    assert dana.get("/activity/whatsapp_message/").status_code == 200
    assert Api(http, sb, key=REP_SALES_KEY).get("/me/").headers["ratelimit"].startswith("limit=600")


def test_refused_refresh_names_no_cause(sb, http):
    tokens = connect(http, sb)
    sb.control("DELETE", f"organizations/{SALES}")
    resp = http.post(sb.url + "/oauth2/token/", data={
        "client_id": "closeline-demo", "client_secret": "closeline-demo-secret",
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert "organization" not in resp.text.lower() and "member" not in resp.text.lower()
