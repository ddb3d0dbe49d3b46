"""A session that FAILED is restarted before anyone rescans (waha.md §2.4), through real HTTP:
the WhatsApp sandbox's WAHA → Closeline's webhook → a real RQ worker → the Close sandbox."""
import sqlalchemy as sa

from tests.helpers.gateway_sandbox import JANE, MIA, fresh, wait_state
from tests.helpers.messages import activities
from tests.helpers.waiting import wait_for


def _notes():
    from webapp.core.extensions import db
    from webapp.models import Notification
    db.session.expire_all()
    return [n.text for n in db.session.scalars(sa.select(Notification))]


def _restarts(wa, session):
    return [r for r in wa.control("GET", "requests", facade="waha")["data"]
            if r["method"] == "POST" and r["path"] == f"/waha/api/sessions/{session}/restart"]


def _qr_codes_shown(wa, session):
    return next(s["qr_count"] for s in wa.state()["waha"]["sessions"] if s["name"] == session)


def test_a_crash_is_restarted_without_a_rescan_and_the_number_syncs_again(app, demo, sandbox_connection, close_sandbox,
                                                                            linked_mia, wa):
    session = linked_mia.session_name
    qr_before = _qr_codes_shown(wa, session)
    wa.control("POST", f"sessions/{session}/fail", {})  # the engine crashed; WhatsApp still has the device
    wait_for(lambda: _restarts(wa, session), timeout=30, interval=0.2, message="Closeline restarts the session")
    wait_for(lambda: fresh(linked_mia).state == "linked" and fresh(linked_mia).restarted_at is None, timeout=30,
             interval=0.2, message="linked again")
    assert len(_restarts(wa, session)) == 1
    assert _qr_codes_shown(wa, session) == qr_before  # nobody scanned anything
    assert not any("QR" in note for note in _notes())
    sent = wa.send(JANE, MIA, "Back after the crash")
    wait_for(lambda: activities(close_sandbox, external_id=sent["ids"]["waha"][MIA]), timeout=40, interval=0.3,
             message="the message in Close")


def test_when_the_restart_does_not_help_restart_is_offered_before_a_relink(app, demo, sandbox_connection,
                                                                           close_sandbox, linked_mia, wa, login):
    session = linked_mia.session_name
    wa.control("POST", f"sessions/{session}/fail", {"restarts_fail": 1})  # the first restart crashes too
    wait_for(lambda: fresh(linked_mia).state == "failed" and fresh(linked_mia).restarted_at is not None,
             timeout=30, interval=0.2, message="failed again after the automatic restart")
    assert len(_restarts(wa, session)) == 1  # automatically once, not in a loop
    notes = _notes()
    assert notes and all("press Restart" in n and "scan a new QR code" not in n for n in notes), notes
    member = login("member@acme.test")
    page = member.get("/whatsapp/").get_data(as_text=True)
    assert "failed (restart it)" in page and "Restart</button>" in page
    response = member.post(f"/whatsapp/links/{linked_mia.id}/restart")
    assert response.status_code == 302
    wait_state(linked_mia, "linked")
    assert len(_restarts(wa, session)) == 2
    sent = wa.send(JANE, MIA, "Working after the second restart")
    wait_for(lambda: activities(close_sandbox, external_id=sent["ids"]["waha"][MIA]), timeout=40, interval=0.3,
             message="the message in Close")


def test_a_device_unlinked_on_the_phone_asks_for_a_new_qr_code(app, demo, sandbox_connection, linked_mia, wa, login):
    wa.control("POST", f"sessions/{linked_mia.session_name}/logout", {})  # removed under Linked devices
    wait_state(linked_mia, "failed")
    assert fresh(linked_mia).needs_rescan
    notes = _notes()
    assert notes and all("scan a new QR code" in n for n in notes), notes
    page = login("member@acme.test").get(f"/whatsapp/links/{linked_mia.id}").get_data(as_text=True)
    assert "Relink (new QR code)" in page and 'id="restart"' not in page


def test_restart_needs_a_csrf_token(app, demo, linked_mia, wa, login):
    member = login("member@acme.test")
    assert member.post(f"/whatsapp/links/{linked_mia.id}/restart", csrf=False).status_code == 400
    assert not _restarts(wa, linked_mia.session_name)
