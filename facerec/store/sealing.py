"""Encryption at rest of biometric data: AES-256-GCM, keys named by a public key id.

A face template and a face crop are special-category data (GDPR Art. 9, BIPA): a stolen database
file or backup must not give them away. Each blob is sealed on its own (a fresh 96-bit nonce, the
column's name as associated data so a sealed crop cannot be passed off as an embedding) and the
row keeps the id of the key that sealed it, so a store can hold rows of two keys while
``facerec keys rotate`` moves it from one to the other, and a wrong key is known before anything
is decrypted or written.

The key is 32 random bytes, from ``$FACEREC_KEY_FILE`` (a file holding it as base64 or hex, made
by ``facerec keys new``) or ``$FACEREC_KEY`` (the same text). With neither, nothing is encrypted;
a store that holds encrypted rows then refuses to open (see Store).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facerec.errors import EncryptionKeyError

KEY_ENV = "FACEREC_KEY"
KEY_FILE_ENV = "FACEREC_KEY_FILE"
NONCE = 12
FILE_MAGIC = b"FACEREC-SEALED-1"  # files (the faiss index): magic, key id, then a sealed blob
ID_LENGTH = 16


@dataclass(frozen=True)
class Key:
    """One AES-256 key; ``id`` is public (a hash of the key), stored beside what it sealed."""

    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def of(cls, secret: bytes) -> Key:
        if len(secret) != 32:
            raise EncryptionKeyError(f"an encryption key is 32 bytes (AES-256), got {len(secret)}")
        return cls(hashlib.sha256(b"facerec key id\0" + secret).hexdigest()[:ID_LENGTH], secret)

    @classmethod
    def parse(cls, text: str, where: str) -> Key:
        """A key written as 64 hex digits or as base64 (what ``facerec keys new`` writes)."""
        text = text.strip()
        try:
            secret = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error):
            raise EncryptionKeyError(f"{where}: not an encryption key (64 hex digits or base64 of 32 bytes)") from None
        if len(secret) != 32:
            raise EncryptionKeyError(f"{where}: an encryption key is 32 bytes (AES-256), this one is {len(secret)}")
        return cls.of(secret)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Key:
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise EncryptionKeyError(f"cannot read the key file {path}: {exc}") from None
        return cls.parse(text, str(path))


def new_key_file(path: str | os.PathLike) -> Key:
    """Write a new random key to ``path`` (mode 0600); refuses to overwrite a file."""
    secret = secrets.token_bytes(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EncryptionKeyError(f"{path} exists already: a key file is never overwritten") from None
    except OSError as exc:
        raise EncryptionKeyError(f"cannot write the key file {path}: {exc}") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(secret).decode() + "\n")
    return Key.of(secret)


class Keyring:
    """The key new data is sealed with (``current``; None: nothing is sealed) and older keys that
    may still open data (during a rotation)."""

    def __init__(self, current: Key | None = None, older: tuple[Key, ...] = ()) -> None:
        self.current = current
        self._keys = {key.id: AESGCM(key.secret) for key in (*older, *([current] if current else []))}
        self._sealer = self._keys[current.id] if current else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """The key of ``$FACEREC_KEY_FILE`` or ``$FACEREC_KEY`` (both set: an error), or none."""
        environ = os.environ if environ is None else environ
        path, text = environ.get(KEY_FILE_ENV), environ.get(KEY_ENV)
        if path and text:
            raise EncryptionKeyError(f"both {KEY_FILE_ENV} and {KEY_ENV} are set: set one")
        if path:
            return cls(Key.read(path))
        if text:
            return cls(Key.parse(text, f"${KEY_ENV}"))
        return cls()

    @property
    def ids(self) -> set[str]:
        return set(self._keys)

    def seal(self, data: bytes, what: str) -> tuple[bytes, str | None]:
        """(blob to store, key id to store beside it); the data itself when no key is set."""
        if self._sealer is None or self.current is None or not data:  # a sealer comes with a current key
            return data, None
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._sealer.encrypt(nonce, data, what.encode()), self.current.id

    def open(self, blob: bytes, key_id: str | None, what: str) -> bytes:
        """The data of a stored blob (sealed by ``key_id``, or plain when None)."""
        if key_id is None or not blob:
            return blob
        aes = self._keys.get(key_id)
        if aes is None:
            raise EncryptionKeyError(f"data sealed with key {key_id} cannot be opened: that key is not configured")
        try:
            return aes.decrypt(blob[:NONCE], blob[NONCE:], what.encode())
        except InvalidTag:
            raise EncryptionKeyError(f"data sealed with key {key_id} failed its integrity check ({what})") from None

    # --- whole files (the saved faiss index) ---------------------------------------------------------

    def seal_file(self, data: bytes) -> bytes:
        blob, key_id = self.seal(data, "file")
        return data if key_id is None else FILE_MAGIC + key_id.encode() + blob

    def open_file(self, data: bytes) -> bytes:
        """A file's content: opened if sealed; a plain file is refused when a key is set (it was
        written before encryption was switched on, and is rebuilt sealed)."""
        if not data.startswith(FILE_MAGIC):
            if self.current is not None:
                raise EncryptionKeyError("a plain file where a key is set")
            return data
        start = len(FILE_MAGIC)
        key_id = data[start : start + ID_LENGTH].decode("ascii", "replace")
        return self.open(data[start + ID_LENGTH :], key_id, "file")
