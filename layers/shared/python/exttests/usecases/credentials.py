"""The per-student, per-provider password the service generates and gives back to the student."""

from __future__ import annotations

import secrets
import string

from ..domain.models import Credentials, ProviderAccount, ToolProvider
from ..ports import Cipher

_ALPHABET = string.ascii_letters + string.digits


def generate_password() -> str:
    # Letters and digits only: students type it; 16 characters give ~95 bits.
    while True:
        password = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        if any(c.isdigit() for c in password) and any(c.isupper() for c in password):
            return password


def cipher_context(student_id: str, provider: ToolProvider) -> dict[str, str]:
    # The encryption context binds a ciphertext to its student and provider, so a copied
    # ciphertext cannot be decrypted as another student's password.
    return {"student": student_id, "provider": provider.value}


def credentials_for(cipher: Cipher, student_id: str, account: ProviderAccount | None) -> Credentials | None:
    """Only a password the service set on the provider can be handed out."""
    if account is None or not account.created_by_service or not account.password_ciphertext:
        return None
    password = cipher.decrypt(account.password_ciphertext, cipher_context(student_id, account.provider))
    return Credentials(email=account.email, password=password)
