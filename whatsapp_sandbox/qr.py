"""QR images for the values the gateways hand out (segno: pure Python, no Pillow)."""
import base64
import io

import segno


def png_bytes(value: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make_qr(value, error="l").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def png_data_url(value: str) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(value)).decode()
