"""The dashboard tells the Close state with its next step, each number's health and an hourly chart."""
from datetime import UTC, datetime, timedelta

from tests.helpers.outcomes import add_outcomes
from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.dashboard import chart, stats
from webapp.messages.ingest import HOLD_DISCONNECTED, HOLD_SUBSCRIPTION
from webapp.models import utcnow


def test_hourly_outcomes_buckets_synced_skipped_failed_dead_per_hour(app, demo):
    add_outcomes(demo, [("synced", 0), ("synced", 0), ("skipped", 0), ("failed", 3), ("dead", 3),
                        ("synced", 200), ("queued", 0)])
    hours = stats.hourly_outcomes(demo.acme.id)
    assert len(hours) == 168
    now_hour = stats.hour_floor(utcnow())
    assert hours[-1]["hour"] == now_hour
    assert {k: hours[-1][k] for k in stats.SERIES} == {"synced": 2, "skipped": 1, "failed": 0, "dead": 0}
    # a dead message (retries given up) is not counted as failed (still retrying): each has its own series
    assert {k: hours[-4][k] for k in stats.SERIES} == {"synced": 0, "skipped": 0, "failed": 1, "dead": 1}
    # 200 hours ago is outside the window; queued is no outcome
    assert sum(h["synced"] + h["skipped"] + h["failed"] + h["dead"] for h in hours) == 5
    # another workspace sees none of it
    assert not any(h["synced"] for h in stats.hourly_outcomes(demo.globex.id))


def test_a_synced_row_counts_in_the_hour_it_synced(app, demo):
    [row] = add_outcomes(demo, [("synced", 5)])
    row.updated_at = utcnow()  # touched later (e.g. an edit): the chart still shows when it synced
    db.session.commit()
    hours = stats.hourly_outcomes(demo.acme.id)
    assert hours[-6]["synced"] == 1 and hours[-1]["synced"] == 0


def test_chart_geometry_scales_to_a_round_maximum():
    start = datetime(2026, 1, 5, 22, tzinfo=UTC)
    hours = [{"hour": start + timedelta(hours=i), "synced": s, "skipped": k, "failed": f, "dead": 0}
             for i, (s, k, f) in enumerate([(3, 0, 0), (0, 0, 0), (10, 2, 1)])]
    drawn = chart.stacked_bars(hours)
    assert [g["label"] for g in drawn["grid"]] == ["0", "10", "20"]
    assert len(drawn["bars"]) == 2  # empty hours draw nothing
    tallest = drawn["bars"][1]["segments"]
    assert [s["series"] for s in tallest] == ["synced", "skipped", "failed"]
    assert round(sum(s["h"] for s in tallest), 1) == round((drawn["bottom"] - 10) * 13 / 20, 1)
    assert [d["label"] for d in drawn["days"]] == ["Mon 05", "Tue 06"]
    assert drawn["totals"] == {"synced": 13, "skipped": 2, "failed": 1, "dead": 0}


def test_day_labels_of_the_chart_never_overlap():
    for first_hour in range(24):
        start = datetime(2026, 3, 27, first_hour, tzinfo=UTC)  # a Friday
        hours = [{"hour": start + timedelta(hours=i), **dict.fromkeys(stats.SERIES, 0)} for i in range(168)]
        days = chart.stacked_bars(hours)["days"]
        gaps = [b["x"] - a["x"] for a, b in zip(days, days[1:])]
        # a label ("Fri 27", 11 px font) is under 40 units wide: every label starts after the last one ends
        assert min(gaps) >= 40, (first_hour, days[:2])
        assert days[-1]["x"] + 40 <= chart.WIDTH, (first_hour, days[-1])  # not cut off at the right edge
        assert len(days) >= 6


def test_dashboard_not_connected_names_the_next_step_per_role(app, demo, login):
    page = text_of(login("owner@acme.test").get("/dashboard"))
    assert "Not connected to Close" in page and "Connect Close" in page
    page = text_of(login("member@acme.test").get("/dashboard"))
    assert "Ask an owner or admin to connect Close" in page


def test_dashboard_shows_chart_numbers_and_connection(app, demo, login, fake_connection):
    add_outcomes(demo, [("synced", 1), ("failed", 2), ("skipped", 2)])
    response = login("member@acme.test").get("/dashboard")
    assert response.status_code == 200
    page = text_of(response)
    assert "Connected to Acme Sales as dana@acme.test" in page
    assert 'id="hourly-chart"' in page and 'data-bars="2"' in page
    assert 'data-series="failed"' in page and "1 synced" in page
    assert "+14155550001" in page and "1 failing" in page  # the owner's number
    assert "+14155550003" in page and "nothing synced yet" in page


def test_dashboard_says_when_close_is_unreachable(app, demo, login, fake_connection):
    fake_connection.unreachable_since = utcnow() - timedelta(minutes=5)
    db.session.commit()
    page = text_of(login("owner@acme.test").get("/dashboard"))
    assert "Close unreachable since" in page and "retrying" in page


def test_paused_subscription_wording_held_count_and_who_renews(app, demo, login, fake_connection):
    demo.acme.set_subscription("trialing", trial_days=-1)
    db.session.commit()
    add_outcomes(demo, [("held", 0), ("held", 0)], reason=HOLD_SUBSCRIPTION)
    owner = text_of(login("owner@acme.test").get("/integrations/close/"))
    assert "The subscription of this workspace is" not in owner
    assert "Sync to Close is paused because the trial has ended" in owner
    assert "<strong>2 messages</strong> are held" in owner and "How to renew, and what is paused and held" in owner
    admin = text_of(login("admin@acme.test").get("/dashboard"))
    assert "Ask the workspace owner (" in admin and "How to renew" not in admin


def test_subscription_page_does_not_claim_sync_runs_when_not_connected(app, demo, login):
    owner = login("owner@acme.test")
    page = text_of(owner.get("/subscription"))
    assert "Sync to Close is running" not in page and "not connected to Close" in page


def test_auto_disconnected_names_the_reason_and_offers_reconnect(app, demo, login, fake_connection):
    fake_connection.disconnected_at = utcnow()
    fake_connection.disconnect_reason = "access_revoked"
    db.session.commit()
    add_outcomes(demo, [("held", 0)], reason=HOLD_DISCONNECTED)
    page = text_of(login("admin@acme.test").get("/dashboard"))
    assert "Disconnected automatically: Close no longer accepts the connection" in page and "Reconnect Close" in page
    assert "1 message held until Close is connected" in page
    member = text_of(login("member@acme.test").get("/dashboard"))
    assert "Ask an owner or admin to reconnect Close" in member
