"""The subscription page: the owner's alone."""


def test_subscription_page_is_owner_only(demo, login):
    page = login("owner@acme.test").get("/subscription")
    assert page.status_code == 200 and b"active" in page.data
    assert login("admin@acme.test").get("/subscription").status_code == 403
