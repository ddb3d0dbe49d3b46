"""The log of one chat (/sync/?chat=N, where Close's activities link to) says whose chat it is, its
filters show it, and the search finds a message by the ids people copy from WhatsApp and Close."""
import re

from tests.helpers.outcomes import add_outcomes
from webapp.core.extensions import db
from webapp.models import ChatLink, Message, whatsapp_id_of


def _chat_with_lead(demo, org="orga_ui"):
    rows = add_outcomes(demo, [("synced", 2), ("failed", 1)], name="Gob Bluth", remote="+14155550199")
    chat_id = rows[0].chat_id
    db.session.add(ChatLink(workspace_id=demo.acme.id, chat_id=chat_id, close_org_id=org, lead_id="lead_gob",
                            lead_name="Bluth Company"))
    db.session.commit()
    return chat_id, rows


def test_the_chat_view_names_the_customer_number_member_and_lead(app, demo, login, fake_connection):
    chat_id, _ = _chat_with_lead(demo)
    add_outcomes(demo, [("synced", 1)], name="Someone Else", remote="+14155550198")
    page = login("owner@acme.test").get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    heading = re.search(r'id="chat-heading">(.*?)</section>', page, re.S).group(1)
    assert "Chat with Gob Bluth" in heading and "+14155550199" in heading
    assert "+14155550001" in heading and "Olivia Owner" in heading  # the number it came in on, and whose
    assert re.search(r'id="chat-lead" href="[^"]*/lead/lead_gob/?"[^>]*>Bluth Company<', heading)
    # the filters say it is one chat (not "All"), with the way back to every chat
    number_select = re.search(r'<select name="number".*?</select>', page, re.S).group(0)
    assert re.search(r'<option value="\d+" selected>\+14155550001<', number_select)
    assert re.search(r'id="chat-filter">Chat: Gob Bluth', page)
    assert "Someone Else" not in page.split('id="sync-log"')[1]


def test_a_chat_without_a_lead_says_what_happens_next(app, demo, login, fake_connection):
    [row] = add_outcomes(demo, [("queued", 0)], name="New Customer", remote="+14155550197")
    page = login("owner@acme.test").get(f"/sync/?chat={row.chat_id}").get_data(as_text=True)
    assert "Chat with New Customer" in page and "no Close lead yet" in page


def test_a_member_gets_no_heading_for_a_teammates_chat(app, demo, login, fake_connection):
    chat_id, _ = _chat_with_lead(demo)  # on the owner's number
    page = login("member@acme.test").get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    assert 'id="chat-heading"' not in page and "Gob Bluth" not in page and "Bluth Company" not in page


def test_another_workspaces_chat_shows_nothing(app, demo, login, fake_connection):
    chat_id, _ = _chat_with_lead(demo)
    page = login("owner@globex.test").get(f"/sync/?chat={chat_id}").get_data(as_text=True)
    assert "Gob Bluth" not in page and 'id="chat-heading"' not in page


def test_whatsapp_id_of_a_gateway_message():
    assert whatsapp_id_of("false_14155550123@c.us_3EB0C767D26A1D7A3B8B") == "3EB0C767D26A1D7A3B8B"
    assert whatsapp_id_of("true_14155550123@s.whatsapp.net_BAE5F1A2") == "BAE5F1A2"
    assert whatsapp_id_of("false_120363@g.us_3EB0AA_14155550123@c.us") == "3EB0AA"  # a group's, with its sender
    assert whatsapp_id_of("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdG") == "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdG"
    assert whatsapp_id_of("bulk-4242") == "bulk-4242"


def test_the_search_finds_a_message_by_whatsapp_activity_and_lead_ids(app, demo, login, fake_connection):
    chat_id, rows = _chat_with_lead(demo)
    synced, failed = rows
    synced.external_id = "false_14155550199@c.us_3EB0C767D26A1D7A3B8B"
    synced.whatsapp_id = whatsapp_id_of(synced.external_id)
    synced.close_activity_id, synced.close_lead_id, synced.text = "acti_found_me", "lead_gob", "the synced one"
    failed.text = "the failed one"
    db.session.commit()
    owner = login("owner@acme.test")

    def found(q):
        html = owner.get("/sync/log", query_string={"q": q}, headers={"HX-Request": "true"}).get_data(as_text=True)
        return {text for text in ("the synced one", "the failed one") if text in html}
    assert found("3EB0C767D26A1D7A3B8B") == {"the synced one"}  # WhatsApp's id, not the gateway's wrapped one
    assert found("acti_found_me") == {"the synced one"}         # the Close activity id
    assert found("lead_gob") == {"the synced one"}              # the Close lead id
    assert found("3EB0C767") == set()                           # ids match whole, not in part


def test_a_new_row_gets_its_whatsapp_id_on_insert(app, demo, api, sandbox_connection):
    from tests.helpers.messages import body
    api.post(body("false_14155550123@c.us_ABCDEF123", phone="+14155550123"))
    row = db.session.scalar(db.select(Message))
    assert row.whatsapp_id == "ABCDEF123"
