"""WAHA LIDs API: @lid ↔ phone number, as far as the account knows it (pn may be null)."""
from urllib.parse import unquote

from flask import jsonify

from ..core import sandbox
from .api import bp, int_arg, nest, session_in, wait_for_status

# --- LIDs -------------------------------------------------------------------------------------------


def _lid_row(phone) -> dict:
    return {"lid": f"{phone.lid}@lid", "pn": f"{phone.digits}@c.us" if phone.lid_resolvable else None}


@bp.get("/api/<name>/lids")
def lids(name):
    sb = sandbox()
    limit, offset = int_arg("limit", 100), int_arg("offset", 0)
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        rows = sorted((_lid_row(p) for p in sb.world.phones.values()
                       if p.e164 != session.auth_number and p.lid_resolvable), key=lambda r: r["lid"])
        return jsonify(rows[offset:offset + limit])


@bp.get("/api/<name>/lids/count")
def lids_count(name):
    sb = sandbox()
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session = session_in(name, ["WORKING"])
        return jsonify({"count": sum(1 for p in sb.world.phones.values()
                                     if p.e164 != session.auth_number and p.lid_resolvable)})


@bp.get("/api/<name>/lids/pn/<path:number>")
def lid_by_phone(name, number):
    sb = sandbox()
    number = unquote(number)
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session_in(name, ["WORKING"])
        if number.endswith("@lid"):
            return jsonify({"lid": number, "pn": None})
        digits = number.split("@")[0].lstrip("+")
        phone = sb.world.phone_by_digits(digits)
        return jsonify({"lid": f"{phone.lid}@lid" if phone else None, "pn": f"{digits}@c.us"})


@bp.get("/api/<name>/lids/<path:lid>")
def lid_lookup(name, lid):
    sb = sandbox()
    lid = unquote(lid)
    if lid.isdigit():
        lid += "@lid"
    if not lid.endswith("@lid"):
        raise nest(422, "Invalid LID - it must end with @lid")
    wait_for_status(name, ["WORKING"])
    with sb.world.lock:
        session_in(name, ["WORKING"])
        phone = sb.world.phone_by_lid(lid[:-4])
        pn = f"{phone.digits}@c.us" if phone and phone.lid_resolvable else None
        return jsonify({"lid": lid, "pn": pn})
