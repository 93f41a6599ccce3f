"""Student passwords encrypted with KMS (moto's KMS on the local stack)."""

from __future__ import annotations

import base64
from typing import Any

from . import aws


class KmsCipher:
    client = aws.LazyClient("kms")

    def __init__(self, key_id: str, client: Any | None = None) -> None:
        self.key_id = key_id
        self._client = client

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        # The encryption context binds a ciphertext to its student and provider, so a copied
        # ciphertext cannot be decrypted as another student's password.
        answer = self.client.encrypt(
            KeyId=self.key_id, Plaintext=plaintext.encode(), EncryptionContext=context
        )
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        answer = self.client.decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=context, KeyId=self.key_id
        )
        plaintext: bytes = answer["Plaintext"]
        return plaintext.decode()
