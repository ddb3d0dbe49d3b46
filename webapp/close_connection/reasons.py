"""Why a connection ended automatically, in what the card can honestly say.

Close answers a revoked grant, a removed user and a deleted organization the same way (401 on
calls, `invalid_grant` on refresh; close-api.md §2.7, §3.7). For those the card names the Close
user and organization, lists the three causes with how to tell them apart and what to do about
each. Where Closeline itself knows the cause (the workspace member who connected was removed, or
Close lists the Close user as no longer active) it says exactly that.
"""
from dataclasses import dataclass, field

from flask import current_app


@dataclass
class Explanation:
    headline: str
    known: bool                                 # False: Close did not say which of `causes` happened
    causes: list = field(default_factory=list)  # [{"cause", "tell", "do"}]
    next_step: str = ""


def authorized_apps_url():
    return current_app.config["CLOSE_APP_URL"].rstrip("/") + "/settings/accounts-and-apps/authorized-apps/"


def explain(connection):
    """The Explanation of an auto-disconnected connection (None for a disconnect by a person)."""
    org = connection.close_org_name or "the Close organization"
    user = connection.close_user_email or "the Close user who connected"
    reason = connection.disconnect_reason
    if reason == "member_removed":
        member = connection.connected_by
        who = f"{member.name} ({member.email})" if member is not None else "The workspace member who connected Close"
        remover = connection.disconnected_by  # who removed the member
        by = f" by {remover.name}" if remover is not None else ""
        return Explanation(
            f"{who}, who connected Close, was removed from this workspace{by}. Closeline disconnected "
            f"{org} and withdrew its access at Close, so a former member's Close account ({user}) no longer "
            "writes into Close.", known=True,
            next_step=f"An owner or admin reconnects with their own Close account. The settings and chat → lead "
                      f"links of {org} are kept.")
    if reason == "owner_gone":
        return Explanation(
            f"Close lists {user}, who authorized the connection, as no longer an active member of {org}.",
            known=True,
            next_step=f"Reconnect with an active Close user of {org} whose role has Lead Visibility = All Leads, "
                      f"or ask an admin of {org} to add {user} back, then reconnect.")
    if reason == "org_deleted":
        return Explanation(f"The Close organization {org} no longer exists.", known=True,
                           next_step="Connect another Close organization.")
    if reason in (None, "user"):
        return None
    return Explanation(
        f"Close no longer accepts Closeline's connection to {org} (Close user {user}). Close gives the same "
        "answer for three different causes and does not say which one it was:", known=False,
        causes=[
            {"cause": "Access was revoked in Close.",
             "tell": f"Sign in to Close as {user} and open Settings → Authorized apps: Closeline is no longer listed.",
             "do": "Reconnect below and click Allow."},
            {"cause": f"{user} was removed from {org}.",
             "tell": f"{user} can no longer sign in to {org} (other members still can).",
             "do": f"Ask an admin of {org} to add {user} back, or reconnect below with another Close user of {org} "
                   "whose role has Lead Visibility = All Leads."},
            {"cause": f"The organization {org} was deleted in Close.",
             "tell": f"Nobody can sign in to {org} any more.",
             "do": "Connect another Close organization. What was synced into the deleted one is gone with it."},
        ],
    )
