"""Tiny WhatsApp-markdown renderer for message_html / text (read-only derived fields)."""
import html
import re

_RULES = [
    (re.compile(r"```(.+?)```", re.S), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?!\s)(.+?)(?<!\s)~(?![\w~])"), r"<del>\1</del>"),
]
_TAGS = re.compile(r"<[^>]+>")


def whatsapp_to_html(markdown: str) -> str:
    text = html.escape(markdown or "", quote=False)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return "<p>" + text.replace("\n", "<br>") + "</p>"


def whatsapp_to_text(markdown: str) -> str:
    rendered = whatsapp_to_html(markdown)[3:-4].replace("<br>", "\n")
    return html.unescape(_TAGS.sub("", rendered))
