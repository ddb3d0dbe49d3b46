"""The phone simulator: one page per member's phone — link a device by "scanning" the QR code
Closeline shows (paste its value, or pick a pending session), then chat as the member or as a
customer: text, reply, image / document / voice-note upload, edit, delete for everyone.
Plain server-rendered forms (post → redirect → get); no script."""
import mimetypes

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from . import messaging
from .core import sandbox
from .world import Media, WorldError

bp = Blueprint("pages", __name__)


def _member_or_404(digits: str):
    phone = sandbox().world.phone_by_digits(digits)
    if phone is None or phone.kind != "member":
        abort(404)
    return phone


def _pending(sb) -> list:
    """Sessions / instances showing a QR code right now."""
    rows = [{"value": f"waha:{s.name}", "label": f"WAHA session “{s.name}”", "qr": s.qr,
             "detail": ", ".join(f"{k}={v}" for k, v in ((s.config or {}).get("metadata") or {}).items())}
            for s in sb.world.waha_sessions.values() if s.status == "SCAN_QR_CODE"]
    rows += [{"value": f"evolution:{i.name}", "label": f"Evolution instance “{i.name}”", "qr": i.qr, "detail": ""}
             for i in sb.world.evo_instances.values() if i.state == "connecting" and i.qr]
    return rows


def _links(sb, number: str) -> list:
    out = []
    for facade in sb.facades:
        for row in facade.view():
            if row.get("number") == number:
                out.append({"facade": facade.name, "account": row.get("name") or row.get("phone_number_id"),
                            "status": row.get("status") or row.get("state")})
    return out


@bp.get("/")
def home():
    return redirect(url_for("pages.phones"))


@bp.get("/phones/")
def phones():
    sb = sandbox()
    with sb.world.lock:
        members = [{"phone": p, "links": _links(sb, p.e164)} for p in sb.world.members()]
        return render_template("phones.html", members=members, pending=_pending(sb))


@bp.get("/phones/<digits>")
def phone(digits):
    sb = sandbox()
    with sb.world.lock:
        me = _member_or_404(digits)
        latest = {}
        for msg in sb.world.chat_messages(me.e164):
            latest[msg.party(me.e164)] = msg
        chats = [{"peer": sb.world.phones[p], "last": m}
                 for p, m in sorted(latest.items(), key=lambda kv: kv[1].seq, reverse=True)]
        contacts = [p for p in sb.world.phones.values() if p.e164 != me.e164]
        return render_template("phone.html", me=me, links=_links(sb, me.e164), pending=_pending(sb),
                               chats=chats, contacts=contacts)


@bp.post("/phones/<digits>/scan")
def scan(digits):
    sb = sandbox()
    with sb.world.lock:
        me = _member_or_404(digits)
        qr, code = request.form.get("qr", "").strip(), request.form.get("code", "").strip()
        pick = request.form.get("pending", "")
        try:
            linked = None
            if qr or code:
                for facade in sb.facades:
                    if hasattr(facade, "scan_by"):
                        linked = facade.scan_by(me.e164, qr=qr, code=code.upper())
                        if linked:
                            break
            elif ":" in pick:
                facade_name, name = pick.split(":", 1)
                sb.facade(facade_name).control(name, "scan", me.e164)
                linked = name
            else:
                raise WorldError(400, "Paste the QR code's value, enter a pairing code, or pick a pending session.")
            if not linked:
                raise WorldError(404, "No session shows that code right now — it may have rotated; use the current one.")
            flash(f"Linked: {linked}.", "notice")
        except WorldError as exc:
            flash(exc.message, "error")
    return redirect(url_for("pages.phone", digits=digits))


@bp.post("/phones/<digits>/chats")
def open_chat(digits):
    peer = request.form.get("peer", "").strip()
    if not peer.startswith("+"):
        peer = "+" + "".join(ch for ch in peer if ch.isdigit())
    with sandbox().world.lock:
        try:
            sandbox().world.ensure_phone(peer)
        except WorldError as exc:
            flash(exc.message, "error")
            return redirect(url_for("pages.phone", digits=digits))
    return redirect(url_for("pages.chat", digits=digits, peer=peer[1:]))


@bp.get("/phones/<digits>/chats/<peer>")
def chat(digits, peer):
    sb = sandbox()
    with sb.world.lock:
        me = _member_or_404(digits)
        other = sb.world.phone_by_digits(peer)
        if other is None or other.e164 == me.e164:
            abort(404)
        msgs = sb.world.chat_messages(me.e164, other.e164)
        return render_template("chat.html", me=me, other=other, messages=msgs, by_id=sb.world.by_wa_id,
                               links=_links(sb, me.e164))


def _uploaded_media():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    data = upload.read()
    if not data:
        raise WorldError(400, "The file is empty.")
    if len(data) > messaging.MAX_MEDIA_BYTES:
        raise WorldError(413, "The file is too large for the sandbox (32 MB).")
    mimetype = upload.mimetype if upload.mimetype not in (None, "", "application/octet-stream") else \
        (mimetypes.guess_type(upload.filename)[0] or "application/octet-stream")
    kind = request.form.get("kind", "auto")
    if kind == "voice":
        return Media(filename=None, mimetype="audio/ogg; codecs=opus", data=data, voice=True)
    return Media(filename=upload.filename, mimetype=mimetype, data=data, document=kind == "document",
                 voice=kind == "auto" and mimetype.startswith("audio/ogg"))


@bp.post("/phones/<digits>/chats/<peer>/send")
def send(digits, peer):
    sb = sandbox()
    with sb.world.lock:
        me = _member_or_404(digits)
        other = sb.world.phone_by_digits(peer) or abort(404)
        as_customer = request.form.get("as") == "them"
        sender, recipient = (other.e164, me.e164) if as_customer else (me.e164, other.e164)
        try:
            messaging.send(sb, sender, recipient, request.form.get("text", ""),
                           reply_to=request.form.get("reply_to") or None, media=_uploaded_media())
        except WorldError as exc:
            flash(exc.message, "error")
    return redirect(url_for("pages.chat", digits=digits, peer=peer))


@bp.post("/phones/<digits>/chats/<peer>/messages/<wa_id>/edit")
def edit(digits, peer, wa_id):
    sb = sandbox()
    with sb.world.lock:
        _member_or_404(digits)
        try:
            messaging.edit(sb, wa_id, request.form.get("text", ""))
            flash("Edited.", "notice")
        except WorldError as exc:
            flash(exc.message, "error")
    return redirect(url_for("pages.chat", digits=digits, peer=peer))


@bp.post("/phones/<digits>/chats/<peer>/messages/<wa_id>/delete")
def delete(digits, peer, wa_id):
    sb = sandbox()
    with sb.world.lock:
        _member_or_404(digits)
        try:
            messaging.revoke(sb, wa_id)
            flash("Deleted for everyone.", "notice")
        except WorldError as exc:
            flash(exc.message, "error")
    return redirect(url_for("pages.chat", digits=digits, peer=peer))


@bp.get("/phones/media/<wa_id>")
def media(wa_id):
    sb = sandbox()
    with sb.world.lock:
        msg = sb.world.by_wa_id.get(wa_id)
        if msg is None or msg.media is None or msg.revoked:
            abort(404)
        data, mimetype = msg.media.data, msg.media.mimetype.split(";")[0]
    return Response(data, mimetype=mimetype)
