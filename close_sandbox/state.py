"""In-memory state of the fake Close. Everything is guarded by World.lock."""
import threading
import time
from dataclasses import dataclass, field

VIEW_ALL_LEADS = "view_all_leads"
MANAGE_ORGANIZATION = "manage_organization"


@dataclass
class Organization:
    id: str
    name: str
    created_by: str | None
    date_created: float
    date_updated: float
    lead_statuses: list  # [{"id", "label"}]
    pipelines: list
    currency: str = "USD"
    deleted: bool = False
    country: str = "US"  # region for phones typed without a country code (not part of the API)


@dataclass
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    password: str
    date_created: float
    date_updated: float

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Role:
    id: str
    organization_id: str
    name: str
    editable: bool
    permissions: list
    date_created: float | None  # None = built-in (Close shows 0001-01-01)
    date_updated: float | None
    visibility_user_lcf_ids: list = field(default_factory=list)

    @property
    def sees_all_leads(self) -> bool:
        return VIEW_ALL_LEADS in self.permissions

    def set_permission(self, name: str, granted: bool) -> None:
        if granted and name not in self.permissions:
            self.permissions.append(name)
        elif not granted and name in self.permissions:
            self.permissions.remove(name)


@dataclass
class Membership:
    id: str
    organization_id: str
    user_id: str
    role_id: str
    date_created: float
    active: bool = True


@dataclass
class Lead:
    id: str
    organization_id: str
    name: str | None
    description: str | None
    url: str | None
    status_id: str
    owner_id: str | None  # whose "own leads" this is for roles without view_all_leads
    created_by: str | None
    updated_by: str | None
    date_created: float
    date_updated: float
    addresses: list = field(default_factory=list)
    custom: dict = field(default_factory=dict)  # flat "custom.cf_x" keys
    contact_ids: list = field(default_factory=list)
    indexed_at: float = 0.0  # when /data/search/ starts seeing it (Close indexes asynchronously)


@dataclass
class Contact:
    id: str
    organization_id: str
    lead_id: str
    name: str | None
    title: str | None
    phones: list  # normalized [{"phone","phone_formatted","type","country"}]
    emails: list
    urls: list
    created_by: str | None
    updated_by: str | None
    date_created: float
    date_updated: float
    custom: dict = field(default_factory=dict)
    indexed_at: float = 0.0


@dataclass
class WhatsAppMessage:
    id: str
    organization_id: str
    lead_id: str
    contact_id: str
    user_id: str | None
    direction: str
    external_whatsapp_message_id: str
    message_markdown: str
    local_phone: dict
    remote_phone: dict
    attachments: list
    integration_link: str | None
    integration_name: str | None
    response_to_id: str | None
    activity_at: float
    created_by: str | None
    updated_by: str | None
    date_created: float
    date_updated: float
    send_to_inbox: bool = False


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list


@dataclass
class Grant:
    id: str
    client_id: str
    user_id: str
    organization_id: str
    date_created: float
    revoked_at: float | None = None


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    rotated: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    organization_id: str
    code_challenge: str | None
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class ApiKey:
    key: str
    user_id: str
    organization_id: str


@dataclass
class Upload:
    key: str
    filename: str
    content_type: str
    user_id: str
    organization_id: str
    policy_expires_at: float
    data: bytes | None = None
    uploaded_content_type: str | None = None


class World:
    def __init__(self):
        self.lock = threading.RLock()
        self.time_offset = 0.0
        self.clear()

    def clear(self):
        self.organizations: dict[str, Organization] = {}
        self.users: dict[str, User] = {}
        self.roles: dict[tuple[str, str], Role] = {}  # (org_id, role_id): built-in ids repeat per org
        self.memberships: dict[str, Membership] = {}
        self.leads: dict[str, Lead] = {}
        self.contacts: dict[str, Contact] = {}
        self.whatsapp: dict[str, WhatsAppMessage] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.uploads: dict[str, Upload] = {}

    def now(self) -> float:
        return time.time() + self.time_offset

    # --- lookups -------------------------------------------------------
    def user_by_email(self, email: str) -> User | None:
        email = (email or "").strip().lower()
        return next((u for u in self.users.values() if u.email == email), None)

    def org(self, org_id: str) -> Organization | None:
        org = self.organizations.get(org_id)
        return org if org and not org.deleted else None

    def org_by_name(self, name: str) -> Organization | None:
        return next((o for o in self.organizations.values() if o.name == name and not o.deleted), None)

    def membership(self, user_id: str, org_id: str, active_only: bool = True) -> Membership | None:
        for m in self.memberships.values():
            if m.user_id == user_id and m.organization_id == org_id and (m.active or not active_only):
                return m
        return None

    def org_memberships(self, org_id: str, active: bool = True) -> list[Membership]:
        return [m for m in self.memberships.values() if m.organization_id == org_id and m.active == active]

    def user_memberships(self, user_id: str) -> list[Membership]:
        """Active memberships in organizations that still exist."""
        return [
            m for m in self.memberships.values()
            if m.user_id == user_id and m.active and self.org(m.organization_id)
        ]

    def role(self, org_id: str, role_id: str) -> Role | None:
        return self.roles.get((org_id, role_id))

    def find_role(self, role_id: str, org_id: str | None = None) -> Role | None:
        if org_id:
            return self.role(org_id, role_id)
        matches = [r for (o, rid), r in self.roles.items() if rid == role_id]
        return matches[0] if len(matches) == 1 else None

    def org_roles(self, org_id: str) -> list[Role]:
        return [r for (o, _), r in self.roles.items() if o == org_id]

    def lead_contacts(self, lead: Lead) -> list[Contact]:
        return [self.contacts[c] for c in lead.contact_ids if c in self.contacts]

    def grant_is_live(self, grant: Grant | None) -> bool:
        """A grant works while not revoked and its membership and org are alive."""
        if grant is None or grant.revoked_at is not None:
            return False
        return self.membership(grant.user_id, grant.organization_id) is not None and self.org(grant.organization_id) is not None
