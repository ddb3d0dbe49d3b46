"""WhatsApp's own formats, the same whichever gateway passes them on: chat ids (JIDs), shared
locations and contact cards."""


def chat_kind(jid):
    if not jid or jid == "status@broadcast" or jid.endswith(("@broadcast", "@newsletter")):
        return "ignore"
    if jid.endswith("@g.us"):
        return "group"
    if jid.endswith(("@c.us", "@s.whatsapp.net", "@lid")):
        return "direct"
    return "ignore"


def phone_jid(jid):
    """`…@s.whatsapp.net` (maybe with a device suffix) → `<digits>@c.us`; others unchanged."""
    if jid and jid.endswith("@s.whatsapp.net"):
        return jid.split("@")[0].split(":")[0] + "@c.us"
    return jid


def readable_location(location):
    name = ", ".join(str(location.get(k)) for k in ("name", "address") if location.get(k))
    where = f"{location.get('latitude')}, {location.get('longitude')}"
    text = f"📍 Location: {name} ({where})" if name else f"📍 Location: {where}"
    if location.get("url"):
        text += f" {location['url']}"
    return text


def readable_vcard(card):
    name = phones = None
    for line in str(card).splitlines():
        key, _, value = line.partition(":")
        key = key.split(";")[0].upper()
        if key == "FN" and not name:
            name = value.strip()
        elif key == "TEL":
            number = value.strip()
            phones = f"{phones}, {number}" if phones else number
    return f"👤 Contact card: {name or 'unnamed'}" + (f" — {phones}" if phones else "")
