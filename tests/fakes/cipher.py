"""A reversible cipher that, like KMS, refuses a ciphertext under another encryption context."""

from __future__ import annotations

import base64
import json


class FakeCipher:
    def __init__(self) -> None:
        self.decryptions = 0

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        blob = json.dumps({"context": context, "plaintext": plaintext}, sort_keys=True).encode()
        return "fake-kms:" + base64.b64encode(blob[::-1]).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        self.decryptions += 1
        blob = json.loads(base64.b64decode(ciphertext.removeprefix("fake-kms:"))[::-1])
        if blob["context"] != context:
            raise PermissionError("InvalidCiphertextException: encryption context does not match")
        return str(blob["plaintext"])
