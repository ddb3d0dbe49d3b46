"""WAHA media files: /api/files/{session}/{file}, behind the API key, gone after WAHA_FILES_LIFETIME."""
import time
from urllib.parse import unquote

from flask import Response, current_app, jsonify

from ..core import sandbox
from .api import bp

# --- media files -------------------------------------------------------------------------------------------


@bp.get("/api/files/<name>/<path:filename>")
def media_file(name, filename):
    sb = sandbox()
    lifetime = current_app.config["WAHA_FILES_LIFETIME"]
    with sb.world.lock:
        entry = sb.world.waha_files.get(f"{name}/{unquote(filename)}")
        msg = sb.world.by_wa_id.get(entry[0]) if entry else None
        # A file expired through the control API is gone even with lifetime 0 (kept forever otherwise).
        expired = entry is not None and ((lifetime and time.time() - entry[1] > lifetime) or entry[1] == 0.0)
        if msg is None or msg.media is None or msg.revoked or expired:
            return jsonify({"error": {"code": 404, "key": "FILE_NOT_FOUND", "message": "File not found",
                                      "details": "File not found or no longer available"}}), 404
        data, mimetype = msg.media.data, msg.media.mimetype.split(";")[0]
    return Response(data, mimetype=mimetype)
