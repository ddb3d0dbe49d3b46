"""The seeded demo world. Ids are derived from names (ids.stable_id), so they never change."""
from . import phones
from .ids import SHORT_ID_LEN, parse_datetime, stable_id
from .state import (
    ApiKey,
    Contact,
    Lead,
    Membership,
    OAuthClient,
    Organization,
    Role,
    User,
    World,
)

DEMO_PASSWORD = "close-demo"
DEMO_CLIENT_ID = "closeline-demo"
DEMO_CLIENT_SECRET = "closeline-demo-secret"
DEMO_CLIENT_NAME = "Closeline"
DEFAULT_REDIRECT_URIS = ["http://127.0.0.1:5000/integrations/close/callback"]

SEED_TIME = parse_datetime("2025-01-15T09:00:00.000000+00:00")
LEAD_STATUSES = ["Potential", "Bad Fit", "Qualified", "Customer"]

ADMIN_PERMISSIONS = [
    "bulk_delete", "bulk_edit", "bulk_email", "bulk_import", "bulk_sequence_subscriptions",
    "calling", "delete_leads", "export", "manage_customizations", "manage_email_sequences",
    "manage_organization", "manage_others_activities", "manage_others_opportunities",
    "manage_others_tasks", "manage_team_email_templates", "manage_team_smart_views",
    "merge_leads", "view_all_leads",
]
SUPERUSER_PERMISSIONS = [p for p in ADMIN_PERMISSIONS if p != "manage_organization"]
USER_PERMISSIONS = ["calling", "delete_own_activities", "delete_own_opportunities", "delete_own_tasks", "view_all_leads"]
# As in a real role listing (close-api.md §3.5): Restricted User still sees all leads.
RESTRICTED_PERMISSIONS = ["calling", "delete_own_activities", "view_all_leads"]
FIELD_REP_PERMISSIONS = ["calling", "delete_own_activities", "delete_own_tasks", "export"]

BUILTIN_ROLES = [
    ("admin", "Admin", ADMIN_PERMISSIONS),
    ("superuser", "Super User", SUPERUSER_PERMISSIONS),
    ("user", "User", USER_PERMISSIONS),
    ("restricteduser", "Restricted User", RESTRICTED_PERMISSIONS),
]

USERS = [
    # (key, email, first, last)
    ("dana", "dana@acme.test", "Dana", "Scully"),
    ("rep", "rep@acme.test", "Rey", "Presley"),
    ("mia", "mia@acme.test", "Mia", "Member"),
    ("sam", "sam@acme.test", "Sam", "Support"),
    # Same email as Closeline's demo admin: the Team page matches him by email, while Mia (whose
    # Closeline email is member@acme.test) is picked by hand, as members with another email are.
    ("adam", "admin@acme.test", "Adam", "Admin"),
]

# org key -> (name, [(user key, role id or custom role key)])
ORGS = {
    "sales": ("Acme Sales", [("dana", "admin"), ("rep", "field_rep"), ("mia", "user"), ("adam", "user")]),
    "support": ("Acme Support", [("sam", "admin"), ("dana", "user")]),
}
CUSTOM_ROLES = {"field_rep": ("sales", "Field Rep", FIELD_REP_PERMISSIONS)}

# (lead key, org key, lead name, owner key, status label, [(contact key, name, title, [(phone, type)])])
LEADS = [
    ("bluth", "sales", "Bluth Company", "dana", "Potential",
     [("gob", "Gob Bluth", "Magician", [("+14155550101", "mobile")])]),
    ("dunder", "sales", "Dunder Mifflin", "dana", "Qualified",
     [("michael", "Michael Scott", "Regional Manager", [("(415) 555-0102", "office")])]),
    ("initech", "sales", "Initech", "rep", "Potential",
     [("peter", "Peter Gibbons", "Programmer", [("415-555-0103", "mobile")])]),
    ("globex", "sales", "Globex UK", "dana", "Customer",
     [("hank", "Hank Scorpio", "CEO", [("+44 20 7946 0958", "office")])]),
    ("piedpiper", "sales", "Pied Piper", "dana", "Potential",
     [("richard", "Richard Hendricks", "CEO", [("+14155550199", "mobile")])]),
    ("hooli", "sales", "Hooli", "rep", "Qualified",
     [("gavin", "Gavin Belson", "CEO", [("(415) 555-0199", "office")])]),
    ("umbrella", "support", "Umbrella Corp", "dana", "Customer",
     [("alice", "Alice Abernathy", "Security", [("+14155550101", "mobile")])]),
]

API_KEYS = [
    ("api_demo_dana_acme_sales", "dana", "sales"),
    ("api_demo_rep_acme_sales", "rep", "sales"),
    ("api_demo_dana_acme_support", "dana", "support"),
]


def user_id(key): return stable_id("user_", key)
def org_id(key): return stable_id("orga_", key)
def lead_id(key): return stable_id("lead_", key)
def contact_id(key): return stable_id("cont_", key)


def seed(world: World, redirect_uris=None) -> None:
    world.clear()
    world.time_offset = 0.0
    t = SEED_TIME
    world.clients[DEMO_CLIENT_ID] = OAuthClient(
        DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CLIENT_NAME, list(redirect_uris or DEFAULT_REDIRECT_URIS)
    )
    for key, email, first, last in USERS:
        world.users[user_id(key)] = User(user_id(key), email, first, last, DEMO_PASSWORD, t, t)

    for okey, (name, members) in ORGS.items():
        oid = org_id(okey)
        statuses = [{"id": stable_id("stat_", f"{okey}:{label}"), "label": label} for label in LEAD_STATUSES]
        pipeline = {
            "id": stable_id("pipe_", f"{okey}:sales", SHORT_ID_LEN), "name": "Sales",
            "statuses": [
                {"id": stable_id("stat_", f"{okey}:oppo:{label}"), "label": label, "type": kind}
                for label, kind in [("Active", "active"), ("Won", "won"), ("Lost", "lost")]
            ],
        }
        world.organizations[oid] = Organization(oid, name, user_id(members[0][0]), t, t, statuses, [pipeline])
        for rid, rname, perms in BUILTIN_ROLES:
            world.roles[(oid, rid)] = Role(rid, oid, rname, False, list(perms), None, None)
        for rkey, (rorg, rname, perms) in CUSTOM_ROLES.items():
            if rorg == okey:
                rid = stable_id("role_", rkey)
                world.roles[(oid, rid)] = Role(rid, oid, rname, True, list(perms), t, t)
        for ukey, role in members:
            rid = stable_id("role_", role) if role in CUSTOM_ROLES else role
            mid = stable_id("memb_", f"{okey}:{ukey}")
            world.memberships[mid] = Membership(mid, oid, user_id(ukey), rid, t)

    for i, (lkey, okey, name, owner, status_label, contacts) in enumerate(LEADS):
        oid = org_id(okey)
        org = world.organizations[oid]
        status_id = next(s["id"] for s in org.lead_statuses if s["label"] == status_label)
        created = t + 60 * i
        lead = Lead(lead_id(lkey), oid, name, None, None, status_id, user_id(owner),
                    user_id(owner), user_id(owner), created, created)
        for ckey, cname, title, phone_list in contacts:
            cid = contact_id(ckey)
            normalized = [dict(phones.stored(raw, org.country), type=ptype) for raw, ptype in phone_list]
            world.contacts[cid] = Contact(cid, oid, lead.id, cname, title, normalized, [], [],
                                          lead.created_by, lead.created_by, created, created)
            lead.contact_ids.append(cid)
        world.leads[lead.id] = lead

    for key, ukey, okey in API_KEYS:
        world.api_keys[key] = ApiKey(key, user_id(ukey), org_id(okey))
