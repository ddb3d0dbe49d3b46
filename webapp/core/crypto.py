"""Encryption of Close tokens at rest (Fernet).

TOKEN_ENCRYPTION_KEY may hold several comma-separated keys: the first encrypts, all decrypt,
so the key can be rotated without losing existing connections.
"""
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _fernet():
    keys = [k.strip() for k in current_app.config["TOKEN_ENCRYPTION_KEY"].split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext):
    if plaintext is None:
        return None
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext):
    if not ciphertext:
        return None
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:  # wrong key: say so without echoing anything secret
        raise RuntimeError("A stored Close token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from exc
