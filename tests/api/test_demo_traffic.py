"""`flask demo traffic` posts over real HTTP to a running Closeline and feeds every routing branch."""

from tests.helpers.messages import activities, messages


def test_demo_traffic(app, sandbox_connection, close_sandbox, live_app, drain_now, demo, ids):
    result = app.test_cli_runner().invoke(args=["demo", "traffic", "--url", live_app, "--pause", "0"])
    assert result.exit_code == 0, result.output
    assert "HTTP 202" in result.output and "HTTP 4" not in result.output
    drain_now(demo.acme.id)
    rows = messages()
    states = {m.state for m in rows}
    assert states == {"synced", "skipped"}, {(m.state, m.reason) for m in rows}
    by_phone = {}
    for m in rows:
        by_phone.setdefault(m.chat.remote_phone, set()).add(m.close_lead_id)
    assert by_phone["+14155550101"] == {ids.bluth} and by_phone["+14155550102"] == {ids.dunder}
    assert by_phone["+14155550199"] == {ids.piedpiper}  # → review queue
    assert [m.state for m in rows if m.chat.kind == "group"] == ["skipped"]
    assert any(a.get("response_to_id") for a in activities(close_sandbox))
    assert any(a["attachments"] for a in activities(close_sandbox))
    assert len({m.number.e164 for m in rows}) == 3  # several members
    # A second run reuses nothing it shouldn't: new ids, same sticky links.
    assert app.test_cli_runner().invoke(args=["demo", "traffic", "--url", live_app, "--pause", "0"]).exit_code == 0
