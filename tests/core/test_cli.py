"""The operator CLI (`flask workspace create`, `subscription set`, `user create`) and the demo seed."""
import sqlalchemy as sa

from tests.helpers.rows import count
from webapp.core.extensions import db
from webapp.models import User, WhatsAppNumber, Workspace


def test_operator_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workspace", "create", "Initech", "--owner-email", "bill@initech.test",
                                 "--owner-name", "Bill", "--password", "pw-long-enough"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["subscription", "set", "Initech", "past_due"])
    assert result.exit_code == 0 and "past due" in result.output
    workspace = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Initech"))
    assert workspace.subscription_status == "past_due" and not workspace.subscription_active
    result = runner.invoke(args=["subscription", "set", "Initech", "trialing", "--trial-days", "0"])
    assert "trial ended" in result.output
    result = runner.invoke(args=["user", "create", "pete@initech.test", "--password", "pw-long-enough",
                                 "--workspace", "Initech", "--role", "admin"])
    assert result.exit_code == 0
    assert runner.invoke(args=["subscription", "set", "Nope", "active"]).exit_code != 0
    # The database has users now: the demo seed refuses to add its accounts beside them.
    seeded = runner.invoke(args=["seed-demo"])
    assert seeded.exit_code == 0 and "Database already has users; demo seed skipped." in seeded.output
    assert count(Workspace, Workspace.name == "Acme Inc") == 0 and count(User, User.email == "owner@acme.test") == 0


def test_demo_seed_runs_once(app):
    runner = app.test_cli_runner()
    assert "Demo data created" in runner.invoke(args=["seed-demo"]).output
    assert "skipped" in runner.invoke(args=["seed-demo"]).output
    assert count(User) == 4 and count(WhatsAppNumber) == 3
