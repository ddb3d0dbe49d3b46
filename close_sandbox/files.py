"""Files API (/files/upload/), the fake S3 endpoint and the /go/file/ downloads (close-api.md §5.4)."""
import base64
import hashlib
import hmac
import json
import re
import secrets
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from .api import bp as api_bp
from .api import caller, json_body, world
from .core import sandbox
from .errors import field_errors
from .ids import iso
from .state import Upload

bp = Blueprint("files", __name__)
ACCESS_KEY_ID = "AKIASANDBOXCLOSE0000"


def _sign(policy: str) -> str:
    secret = sandbox().config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(secret, policy.encode(), hashlib.sha1).digest()).decode()


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return re.sub(r"[^\w.\- ()]", "_", name) or "file"


@api_bp.post("/files/upload/")
def create_upload():
    body, w, c = json_body(), world(), caller()
    errors = {k: "This field is required." for k in ("filename", "content_type")
              if not isinstance(body.get(k), str) or not body.get(k)}
    if errors:
        raise field_errors(errors)
    sb = sandbox()
    filename = _safe_filename(body["filename"])
    key = f"temporary/{c.user.id}/{secrets.token_hex(16)}/{filename}"
    expires = w.now() + sb.config["UPLOAD_POLICY_TTL"]
    policy = base64.b64encode(json.dumps({
        "expiration": iso(expires),
        "conditions": [{"bucket": "close-sandbox-files"}, {"key": key},
                       {"Content-Type": body["content_type"]}, {"success_action_status": "201"},
                       ["content-length-range", 0, sb.config["MAX_ATTACHMENT_BYTES"]]],
    }).encode()).decode()
    w.uploads[key] = Upload(key, filename, body["content_type"], c.user.id, c.org.id, expires)
    return jsonify({
        "upload": {"url": f"{sb.public_url}/_s3/upload/", "fields": {
            "key": key, "AWSAccessKeyId": ACCESS_KEY_ID, "policy": policy, "signature": _sign(policy),
            "Content-Type": body["content_type"],
            "Content-Disposition": f'inline; filename="{filename}"', "success_action_status": "201",
        }},
        "download": {"url": f"{sb.file_prefix}{key}/"},
    })


def _s3_error(status: int, code: str, message: str) -> Response:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
           f"<Message>{escape(message)}</Message><RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>")
    return Response(xml, status=status, mimetype="application/xml")


@bp.post("/_s3/upload/")
def s3_upload():
    sb = sandbox()
    w = sb.world
    form = request.form
    key = form.get("key", "")
    upload = w.uploads.get(key)
    if upload is None or not form.get("policy") or not hmac.compare_digest(
            _sign(form.get("policy", "")), form.get("signature", "")):
        return _s3_error(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed")
    if w.now() > upload.policy_expires_at:
        return _s3_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    file = request.files.get("file")
    if file is None:
        return _s3_error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    data = file.read(sb.config["MAX_ATTACHMENT_BYTES"] + 1)
    if len(data) > sb.config["MAX_ATTACHMENT_BYTES"]:
        return _s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    upload.data = data
    upload.uploaded_content_type = form.get("Content-Type") or file.mimetype or upload.content_type
    location = f"{sb.file_prefix}{key}/"
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(location)}</Location>'
           f"<Bucket>close-sandbox-files</Bucket><Key>{escape(key)}</Key>"
           f'<ETag>"{hashlib.md5(data).hexdigest()}"</ETag></PostResponse>')
    return Response(xml, status=201, mimetype="application/xml", headers={"Location": location})


@bp.get("/go/file/<path:key>/")
def download(key):
    upload = sandbox().world.uploads.get(key)
    if upload is None or upload.data is None:
        return Response("File not found", status=404, mimetype="text/plain")
    return Response(upload.data, mimetype=upload.uploaded_content_type or upload.content_type,
                    headers={"Content-Disposition": f'inline; filename="{upload.filename}"'})


def uploaded_file(url: str):
    """The Upload behind a /go/file/ download url, or None if it was never uploaded."""
    prefix = sandbox().file_prefix
    if not url.startswith(prefix) or not url.endswith("/"):
        return None
    upload = sandbox().world.uploads.get(url[len(prefix):-1])
    return upload if upload is not None and upload.data is not None else None
