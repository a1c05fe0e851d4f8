"""Personal ids at rest: sealed with AES-GCM, found through a keyed blind index (docs/security.md).

**The keyring** (`CRM_PERSONAL_ID_KEYS`, or the file named by `CRM_PERSONAL_ID_KEYS_FILE`): entries
`<id>:<base64 of 32 random bytes>`, separated by commas or lines (`crm-provider keys generate` writes one).
The entry `index` is the blind index's HMAC key; of the others the first seals every new value, and each
opens what it sealed. Rotation: put a new key first, run `crm-provider keys rotate` (which also seals the
personal ids stored before this release), then drop the old key.

**A sealed value** is a random 12-byte nonce followed by the AES-256-GCM ciphertext and tag, with the
customer id and the key id as associated data (a sealed value copied to another customer's row does not
open), stored beside its key id. **The blind index** is the HMAC-SHA256 of the normalised value
(keys.identifier), so that a search finds what a write stored without the value being stored; it is unique
among live customers, as the plain value was.

Keys and values never reach SQL text, logs or error texts: what the database gets are bound parameters
computed here. The customer read stays one statement: PostgreSQL writes a placeholder where the personal id
goes (`SEALED`), and `place` opens the value and puts it there, in the text, without parsing the document.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app, has_app_context

INDEX_KEY_ID = "index"
KEY_BYTES = 32
NONCE_BYTES = 12
# What the customer document (customers/queries.sql: document) holds where a sealed personal id goes. Only
# the top-level member can read so: in JSON text the quotes of any string value are escaped.
SEALED = '"personal_id":"*"'
KEY_FILE = "personal-id-keys"  # in CRM_DATA_DIR, for the embedded database only


class KeyringError(ValueError):
    """The keyring is not usable; the text never holds a key."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes] = field(repr=False)  # key id -> AES-256 key; the first seals
    index_key: bytes = field(repr=False)
    _ciphers: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):  # one cipher object per key (making one costs more than a value's decryption)
        object.__setattr__(self, "_ciphers", {key_id: AESGCM(key) for key_id, key in self.keys.items()})

    def __reduce__(self):  # to the processes an import checks its rows in (customers/transfer.py)
        return Keyring, (self.keys, self.index_key)

    @property
    def current(self) -> str:
        return next(iter(self.keys))

    def seal(self, customer_id: uuid.UUID, value: str) -> tuple[str, bytes]:
        """(key id, sealed bytes) of `value` for this customer."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.current
        return key_id, nonce + self._ciphers[key_id].encrypt(nonce, value.encode(), _aad(customer_id, key_id))

    def open(self, customer_id: uuid.UUID, key_id: str, sealed: bytes) -> str:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyringError(f"no key {key_id!r} in the keyring (it sealed a stored personal id)")
        try:
            return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(customer_id, key_id)).decode()
        except InvalidTag:
            raise KeyringError(f"a personal id sealed with {key_id!r} does not open: altered, or moved") from None

    def index(self, normalised: str) -> bytes:
        return hmac.new(self.index_key, normalised.encode(), hashlib.sha256).digest()


def _aad(customer_id: uuid.UUID, key_id: str) -> bytes:
    return uuid.UUID(str(customer_id)).bytes + key_id.encode()


def _entries(text: str) -> list[str]:
    """The entries `id:base64` of a keyring's text, by commas or lines."""
    return [entry.strip() for entry in text.replace("\n", ",").split(",") if entry.strip()]


def parse(text: str) -> Keyring:
    """The keyring of `text`."""
    keys, index_key = {}, None
    for entry in _entries(text):
        key_id, _, encoded = entry.partition(":")
        key_id = key_id.strip()
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"the key {key_id!r} is not base64") from None
        if not key_id or len(key) != KEY_BYTES:
            raise KeyringError(f"each entry is <id>:<base64 of {KEY_BYTES} bytes>; {key_id or 'one'!r} is not")
        if key_id == INDEX_KEY_ID:
            index_key = key
        elif key_id in keys:
            raise KeyringError(f"the key id {key_id!r} is given twice")
        else:
            keys[key_id] = key
    if index_key is None or not keys:
        raise KeyringError(f"the keyring needs the `{INDEX_KEY_ID}` key and at least one key that seals")
    return Keyring(keys, index_key)


def generate(key_id: str | None = None) -> str:
    """A new keyring's text, on one line (an environment file's value): an index key and one sealing key."""
    return ",".join(_new_key(name) for name in (INDEX_KEY_ID, key_id or _new_key_id()))


def with_new_key(text: str, key_id: str | None = None) -> str:
    """The keyring of `text` with a new sealing key first (the first step of a rotation), on one line."""
    keyring = parse(text)
    key_id = key_id or _new_key_id()
    if key_id in keyring.keys or key_id == INDEX_KEY_ID:
        raise KeyringError(f"the keyring has a key {key_id!r} already")
    entries = _entries(text)
    index = [entry for entry in entries if entry.partition(":")[0].strip() == INDEX_KEY_ID]
    return ",".join(index + [_new_key(key_id)] + [entry for entry in entries if entry not in index])


def _new_key_id() -> str:
    return f"k{secrets.token_hex(3)}"


def _new_key(key_id: str) -> str:
    """One keyring entry with a new random key."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def load(settings) -> Keyring | None:
    """The keyring the settings name: the variable, else the file; None for neither."""
    if settings.personal_id_keys:
        return parse(settings.personal_id_keys)
    if settings.personal_id_keys_file:
        try:
            return parse(Path(settings.personal_id_keys_file).read_text(encoding="utf-8"))
        except OSError as error:
            raise KeyringError(f"CRM_PERSONAL_ID_KEYS_FILE cannot be read ({error.strerror})") from None
    return None


def key_file(data_dir: Path) -> Path:
    """The keyring of the embedded database (the demo, a developer's machine): a file in its data folder,
    readable by its owner only, written the first time."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(generate())
    return path


def missing(env=None) -> list[str]:
    """What a process serving a database of its own (`DATABASE_URL`) lacks: a keyring. (config.weak_secrets
    reports it with the credentials.)"""
    env = os.environ if env is None else env
    if env.get("DATABASE_URL") and not (env.get("CRM_PERSONAL_ID_KEYS") or env.get("CRM_PERSONAL_ID_KEYS_FILE")):
        return ["CRM_PERSONAL_ID_KEYS (or CRM_PERSONAL_ID_KEYS_FILE) is not set: personal ids are stored encrypted "
                "with it (crm-provider keys generate)"]
    return []


# --- the process's keyring, as plugins.py holds the providers ------------------------------------------------

_PROCESS: Keyring | None = None


def init_app(app: Flask, keyring: Keyring | None) -> None:
    app.extensions["crm_keyring"] = keyring


def use(keyring: Keyring | None) -> None:
    """The keyring of a process that serves no app (the worker, the commands)."""
    global _PROCESS
    _PROCESS = keyring


def active() -> Keyring | None:
    """The current app's keyring, or outside an app the process's; None: personal ids are stored in plain (an
    app built in code without keys: `serve`, the worker and the WSGI entry point refuse to run so)."""
    if has_app_context():
        return current_app.extensions.get("crm_keyring")
    return _PROCESS


def open_stored(customer_id, key_id: str, sealed: bytes) -> str:
    """A stored sealed personal id, opened with the active keyring."""
    keyring = active()
    if keyring is None:
        raise KeyringError("a stored personal id is sealed and no keyring is configured")
    return keyring.open(customer_id, key_id, bytes(sealed))


def place(document: str, customer_id, key_id: str, sealed: bytes) -> str:
    """The customer document (JSON text) with its sealed personal id opened and put in its place."""
    value = json.dumps(open_stored(customer_id, key_id, sealed), ensure_ascii=False)
    return document.replace(SEALED, f'"personal_id":{value}', 1)
