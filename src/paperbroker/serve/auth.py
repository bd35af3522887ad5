"""Join tokens: who may connect, as which account, and with what rights.

A token is 32 random bytes from :mod:`secrets`, URL-safe base64.  The server keeps each
token's grant (one account, or the teacher's, which sees every account and may pause and
resume the market).  Looking a token up compares it with every known token in constant
time (:func:`hmac.compare_digest`), so the time taken says nothing about how close a
guess was.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from .protocol import AccessDenied

__all__ = ["Grant", "TokenBook"]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token allows: ``account_id`` for a student, ``None`` with ``teacher=True``."""

    token: str
    account_id: str | None
    teacher: bool = False

    @property
    def role(self) -> str:
        """ "teacher" or "student"."""
        return "teacher" if self.teacher else "student"

    def check_account(self, account_id: object) -> None:
        """Raise AccessDenied unless this grant may act on ``account_id``."""
        if self.teacher or account_id == self.account_id:
            return
        msg = (
            f"This token belongs to account {self.account_id!r} and cannot use account "
            f"{account_id!r}; ask the teacher for that account's own invitation."
        )
        raise AccessDenied(msg)


class TokenBook:
    """The server's tokens: issue, look up (constant time), revoke."""

    def __init__(self) -> None:
        self._grants: list[Grant] = []
        self.revoked = 0

    def issue(self, account_id: str | None, *, teacher: bool = False) -> Grant:
        """A new grant (a fresh random token) for ``account_id``, or for the teacher."""
        grant = Grant(secrets.token_urlsafe(32), account_id, teacher)
        self._grants.append(grant)
        return grant

    def find(self, token: object) -> Grant:
        """The grant of ``token``, or AccessDenied with a sentence a student can act on."""
        if not isinstance(token, str) or not token:
            msg = "No token given: join with the URL the teacher gave you (it ends in ?token=...)."
            raise AccessDenied(msg)
        given = token.encode("utf-8", "surrogatepass")
        found = None
        for grant in self._grants:  # no early exit: every token is compared
            if hmac.compare_digest(given, grant.token.encode("ascii")):
                found = grant
        if found is None:
            msg = "This token is unknown or has been revoked; ask the teacher for a new invitation."
            raise AccessDenied(msg)
        return found

    def revoke(self, token: str) -> Grant:
        """Forget ``token``; its grant is returned.  Raises AccessDenied if unknown."""
        grant = self.find(token)
        self._grants.remove(grant)
        self.revoked += 1
        return grant

    def __len__(self) -> int:
        return len(self._grants)
