"""Fixtures of the screen tests: a live Close connection row (message rows with outcomes at chosen
times come from tests.helpers.outcomes)."""
import pytest


@pytest.fixture
def connected(demo):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    row = CloseConnection(workspace_id=demo.acme.id, close_org_id="orga_ui", close_org_name="Acme Sales",
                          close_user_id="user_ui", close_user_email="dana@acme.test",
                          close_user_name="Dana Scully",
                          connected_by_id=demo.users["owner@acme.test"].id)
    db.session.add(row)
    db.session.commit()
    return row
