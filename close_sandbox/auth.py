"""Resolve an Authorization header (Bearer token or API-key Basic) to a caller context."""
import base64
import binascii
from dataclasses import dataclass

from .state import Membership, Organization, Role, User, World


@dataclass
class Caller:
    kind: str  # "oauth" | "api_key"
    credential: str  # rate-limit bucket id; never logged
    user: User
    org: Organization
    membership: Membership
    role: Role
    integration_name: str

    @property
    def sees_all_leads(self) -> bool:
        return self.role.sees_all_leads

    def can_see_lead(self, lead) -> bool:
        if lead is None or lead.organization_id != self.org.id:
            return False
        return self.sees_all_leads or lead.owner_id == self.user.id


def _caller(world: World, kind, credential, user_id, org_id, integration_name) -> Caller | None:
    org = world.org(org_id)
    membership = world.membership(user_id, org_id) if org else None
    role = world.role(org_id, membership.role_id) if membership else None
    if role is None:
        return None
    return Caller(kind, credential, world.users[user_id], org, membership, role, integration_name)


def resolve(world: World, header: str | None) -> Caller | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        token = world.access_tokens.get(value)
        if token is None or token.expires_at <= world.now():
            return None
        grant = world.grants.get(token.grant_id)
        if not world.grant_is_live(grant):
            return None
        client = world.clients.get(grant.client_id)
        # Rate limits follow the grant so a refresh does not reset the bucket.
        return _caller(world, "oauth", "grant:" + grant.id, grant.user_id, grant.organization_id,
                       client.name if client else "API")
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key_text = decoded.partition(":")[0]
        api_key = world.api_keys.get(key_text)
        if api_key is None:
            return None
        return _caller(world, "api_key", "key:" + key_text, api_key.user_id, api_key.organization_id, "API")
    return None
