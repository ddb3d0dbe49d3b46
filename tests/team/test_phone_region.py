"""Team → add number reads national formats in the member's country, then the workspace's."""
import pytest
import sqlalchemy as sa

from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, to_e164_in_regions
from webapp.models import WhatsAppNumber


def test_national_format_read_in_the_first_region_that_fits():
    assert to_e164_in_regions("(415) 555-0777", ["US"]) == "+14155550777"
    assert to_e164_in_regions("020 7946 0958", ["US", "GB"]) == "+442079460958"
    assert to_e164_in_regions("+44 20 7946 0958", []) == "+442079460958"
    assert to_e164_in_regions("0044 20 7946 0958", ["US"]) == "+442079460958"


def test_add_the_country_code_only_when_no_region_can_read_it():
    with pytest.raises(InvalidPhone, match="Add the country code"):
        to_e164_in_regions("(415) 555-0777", [])
    with pytest.raises(InvalidPhone, match="not a valid number in United Kingdom.*add the country code"):
        to_e164_in_regions("(415) 555-0777", ["GB"])
    with pytest.raises(InvalidPhone, match="not a valid phone number"):
        to_e164_in_regions("+1 555", ["US"])


def _numbers(e164):
    db.session.expire_all()
    return db.session.scalars(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == e164)).all()


def test_member_with_a_us_number_adds_a_national_one(demo, login):
    member = login("member@acme.test")
    assert "read as United States numbers" in text_of(member.get("/team/"))
    response = member.post("/team/numbers", data={"number": "(415) 555-0777"})
    assert response.status_code == 302
    assert [n.membership_id for n in _numbers("+14155550777")] == [demo.memberships["member@acme.test"].id]


def test_without_any_country_the_page_asks_for_the_code_then_the_workspace_country_reads_it(demo, login):
    owner = login("owner@globex.test")  # no number of their own, no workspace country
    refused = owner.post("/team/numbers", data={"number": "(415) 555-0777"})
    assert refused.status_code == 400 and "Add the country code" in text_of(refused)
    assert _numbers("+14155550777") == []
    saved = owner.post("/settings/region", data={"default_region": "US"}, follow_redirects=True)
    assert "now read as United States numbers" in text_of(saved)
    assert owner.post("/team/numbers", data={"number": "(415) 555-0777"}).status_code == 302
    assert [n.workspace_id for n in _numbers("+14155550777")] == [demo.globex.id]


def test_workspace_country_is_admin_only_and_validated(demo, login):
    assert login("member@acme.test").post("/settings/region", data={"default_region": "US"}).status_code == 403
    bad = login("admin@acme.test").post("/settings/region", data={"default_region": "XX"}, follow_redirects=True)
    assert "Pick a country from the list" in text_of(bad)
    db.session.expire_all()
    assert demo.acme.default_region is None


@pytest.mark.parametrize("legacy, today", [
    ("+52 1 55 1234 5678", "+525512345678"),    # Mexico's retired mobile "1", still in old WhatsApp ids
    ("+55 31 8765 4321", "+5531987654321"),     # Brazil's 8-digit mobile, before the leading 9
])
def test_retired_mobile_forms_whatsapp_still_uses_read_as_todays_number(legacy, today):
    assert to_e164_in_regions(legacy, []) == today


@pytest.mark.parametrize("number", ["+55 31 3265 4321", "+52 55 1234 5678", "+54 9 11 2345 6789"])
def test_numbers_valid_as_they_are_are_left_alone(number):
    digits = "+" + "".join(ch for ch in number if ch.isdigit())
    assert to_e164_in_regions(number, []) == digits


def test_a_wrong_length_is_still_refused():
    with pytest.raises(InvalidPhone, match="not a valid phone number"):
        to_e164_in_regions("+52 1 55 1234 567", [])
