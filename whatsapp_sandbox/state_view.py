"""GET /_sandbox/state: everything a test or the demo needs to know about the world."""


def world_state(sb) -> dict:
    world, config = sb.world, sb.config
    links = {}
    for facade in sb.facades:
        for row in facade.view():
            if row.get("number"):
                links.setdefault(row["number"], []).append(
                    {"facade": facade.name, "account": row.get("name") or row.get("phone_number_id"),
                     "status": row.get("status") or row.get("state")})
    members, customers = [], []
    for phone in world.phones.values():
        row = {"number": phone.e164, "name": phone.name, "lid": f"{phone.lid}@lid"}
        if phone.kind == "member":
            row.update(email=phone.email, links=links.get(phone.e164, []),
                       phone_page=f"{sb.public_url}/phones/{phone.digits}")
            members.append(row)
        else:
            row.update(written_as=phone.written_as, lid_only=phone.lid_only,
                       lid_resolvable=phone.lid_resolvable)
            customers.append(row)
    return {
        "public_url": sb.public_url,
        "members": members,
        "customers": customers,
        "waha": {"base_url": f"{sb.public_url}/waha", "api_key": config["WAHA_API_KEY"],
                 "single_session": config["WAHA_SINGLE_SESSION"], "engine": config["WAHA_ENGINE"],
                 "sessions": sb.facade("waha").view()},
        "evolution": {"base_url": f"{sb.public_url}/evolution", "api_key": config["EVOLUTION_API_KEY"],
                      "instances": sb.facade("evolution").view()},
        "graph": {"base_url": f"{sb.public_url}/graph", "api_version": config["GRAPH_API_VERSION"],
                  "access_token": config["GRAPH_ACCESS_TOKEN"], "app_secret": config["GRAPH_APP_SECRET"],
                  "webhook_url": config["GRAPH_WEBHOOK_URL"], "numbers": sb.facade("graph").view()},
        "counts": {"messages": len(world.messages)},
        "webhook_faults": sb.dispatcher.faults.snapshot(),
        "pending_deliveries": sb.dispatcher.pending(),
        "outage": dict(sb.api_down),
    }
