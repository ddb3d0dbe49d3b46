"""Operator commands: `flask workspace create`, `flask subscription set`, `flask user create`, `flask seed-demo`."""
import click
import sqlalchemy as sa
from flask import current_app

from webapp.account import cloud_numbers
from webapp.clients.gateways import registry
from webapp.core.extensions import db
from webapp.core.signals import subscription_changed
from webapp.models import CloudApiNumber, Gateway, Membership, User, WhatsAppNumber, Workspace
from webapp.models.accounts import SUBSCRIPTION_STATES
from webapp.whatsapp import gateways_service

DEMO_PASSWORD = "closeline-demo"
DEMO_PEOPLE = [
    # workspace, email, name, role, WhatsApp number
    ("Acme Inc", "owner@acme.test", "Olivia Owner", "owner", "+14155550001"),
    ("Acme Inc", "admin@acme.test", "Adam Admin", "admin", "+14155550002"),
    ("Acme Inc", "member@acme.test", "Mia Member", "member", "+14155550003"),
    ("Globex", "owner@globex.test", "Gus Globex", "owner", None),
]


def init_app(app):
    app.cli.add_command(workspace_group)
    app.cli.add_command(subscription_group)
    app.cli.add_command(user_group)
    app.cli.add_command(seed_demo)


def _get_or_create_user(email, name, password):
    email = email.strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name)
        user.set_password(password)
        db.session.add(user)
    return user


def _find_workspace(ref):
    query = sa.select(Workspace).where(Workspace.id == int(ref)) if str(ref).isdigit() else \
        sa.select(Workspace).where(Workspace.name == ref)
    workspace = db.session.scalar(query)
    if workspace is None:
        raise click.ClickException(f"No workspace {ref!r}.")
    return workspace


@click.group("workspace", help="Manage workspaces.")
def workspace_group():
    pass


@workspace_group.command("create")
@click.argument("name")
@click.option("--owner-email", required=True)
@click.option("--owner-name", default="Owner")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--trial-days", default=14, show_default=True)
def create_workspace(name, owner_email, owner_name, password, trial_days):
    user = _get_or_create_user(owner_email, owner_name, password)
    workspace = Workspace(name=name)
    workspace.set_subscription("trialing", trial_days=trial_days)
    db.session.add_all([workspace, Membership(workspace=workspace, user=user, role="owner")])
    db.session.commit()
    click.echo(f"Created workspace {workspace.id} {name!r} owned by {user.email}.")


@click.group("subscription", help="Set a workspace's subscription state.")
def subscription_group():
    pass


@subscription_group.command("set")
@click.argument("workspace")
@click.argument("state", type=click.Choice(SUBSCRIPTION_STATES))
@click.option("--trial-days", type=int, default=None, help="With 'trialing': days left (0 = ended).")
def set_subscription(workspace, state, trial_days):
    row = _find_workspace(workspace)
    old = row.subscription_status
    row.set_subscription(state, trial_days=trial_days)
    db.session.commit()
    subscription_changed.send(row, old_status=old)
    click.echo(f"{row.name}: subscription {row.subscription_label}.")


@click.group("user", help="Manage users.")
def user_group():
    pass


@user_group.command("create")
@click.argument("email")
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--workspace", default=None, help="Add to this workspace (id or name).")
@click.option("--role", type=click.Choice(["admin", "member"]), default="member")
def create_user(email, name, password, workspace, role):
    user = _get_or_create_user(email, name or email.split("@")[0], password)
    if workspace:
        ws = _find_workspace(workspace)
        db.session.flush()
        if user.membership_in(ws.id) is None:
            db.session.add(Membership(workspace=ws, user=user, role=role))
    db.session.commit()
    click.echo(f"User {user.email} ready.")


def seed_demo_data():
    """Idempotent: creates the demo workspaces and people when the database has no users."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return False
    workspaces = {}
    for ws_name, email, name, role, number in DEMO_PEOPLE:
        workspace = workspaces.get(ws_name)
        if workspace is None:
            workspace = workspaces[ws_name] = Workspace(name=ws_name)
            workspace.set_subscription("active")
            db.session.add(workspace)
        user = _get_or_create_user(email, name, DEMO_PASSWORD)
        membership = Membership(workspace=workspace, user=user, role=role)
        db.session.add(membership)
        if number:
            db.session.add(WhatsAppNumber(workspace=workspace, membership=membership, e164=number, label="work"))
    db.session.commit()
    return True


# The WhatsApp sandbox's demo gateways: (kind, name, path on the sandbox, config key of its API key).
# The sandbox serves each kind under /<kind>, with the API key in WHATSAPP_SANDBOX_<KIND>_API_KEY.
DEMO_GATEWAYS = [(kind, f"WhatsApp sandbox ({label})", f"/{kind}", f"WHATSAPP_SANDBOX_{kind.upper()}_API_KEY")
                 for kind, label in registry.choices()]
# Acme's Cloud API business number in the demo (Adam's phone in the sandbox; see devstack).
DEMO_CLOUD_NUMBER = ("+14155550002", "100000000000002")


def _demo_sandbox():
    """(sandbox base URL, Acme) when WHATSAPP_SANDBOX_URL is set and Acme exists, else (None, None)."""
    sandbox = current_app.config["WHATSAPP_SANDBOX_URL"]
    workspace = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Acme Inc"))
    return (sandbox.rstrip("/"), workspace) if sandbox and workspace is not None else (None, None)


def seed_demo_gateways():
    """With WHATSAPP_SANDBOX_URL set: one WAHA and one Evolution API gateway in Acme pointing at the
    WhatsApp sandbox (once each). Returns the gateways added."""
    sandbox, workspace = _demo_sandbox()
    if sandbox is None:
        return []
    added = []
    for kind, name, path, key_setting in DEMO_GATEWAYS:
        base_url = sandbox + path
        if db.session.scalar(sa.select(Gateway).where(Gateway.workspace_id == workspace.id,
                                                      Gateway.base_url == base_url)):
            continue
        added.append(gateways_service.add_gateway(workspace.id, name=name, base_url=base_url, kind=kind,
                                                  api_key=current_app.config[key_setting],
                                                  created_by=workspace.owner))
    return added


def seed_demo_cloud_number():
    """With WHATSAPP_SANDBOX_URL set: Acme's Cloud API number, with the sandbox's Graph token (once)."""
    sandbox, workspace = _demo_sandbox()
    if sandbox is None:
        return None
    e164, phone_number_id = DEMO_CLOUD_NUMBER
    if db.session.scalar(sa.select(CloudApiNumber).where(CloudApiNumber.phone_number_id == phone_number_id)):
        return None
    return cloud_numbers.register(workspace.id, phone_number_id, e164, workspace.owner,
                                  access_token=current_app.config["WHATSAPP_SANDBOX_GRAPH_ACCESS_TOKEN"],
                                  operator_seed=True)


@click.command("seed-demo", help="Create the demo workspaces when the database is empty.")
def seed_demo():
    if current_app.config.get("CONFIG_NAME") == "production":
        raise click.ClickException("seed-demo is refused in production (its accounts share a published "
                                   "password): create real accounts with `flask workspace create`.")
    if seed_demo_data():
        click.echo(f"Demo data created (password {DEMO_PASSWORD!r}).")
    else:
        click.echo("Database already has users; demo seed skipped.")
    for gateway in seed_demo_gateways():
        click.echo(f"{registry.label_of(gateway.kind)} gateway {gateway.name!r} added to Acme Inc ({gateway.base_url}).")
    cloud = seed_demo_cloud_number()
    if cloud is not None:
        click.echo(f"Cloud API number {cloud.number.e164} (phone_number_id {cloud.phone_number_id}) added to Acme Inc.")
    current_app.logger.debug("seed-demo done")
