"""Password hashes (stdlib scrypt) and bearer tokens (JWT, HS256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

import jwt

# The interactive-login parameters recommended for scrypt: about 50 ms and 16 MiB per hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
TOKEN_TTL = 3600
TOKEN_ISSUER = 'demoapp'
_ALGORITHM = 'HS256'


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired or signed with another key."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


def hash_password(password: str, salt: bytes | None = None) -> str:
    """'scrypt$N$r$p$salt$hash' with base64 salt and hash; migration 0001 writes the same format."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode('utf-8'), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return 'scrypt$%d$%d$%d$%s$%s' % (SCRYPT_N, SCRYPT_R, SCRYPT_P, _b64(salt), _b64(digest))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split('$')
        if scheme != 'scrypt':
            return False
        expected_bytes = base64.b64decode(expected)
        digest = hashlib.scrypt(password.encode('utf-8'), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected_bytes))
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected_bytes)


def issue_token(secret: str, user_id: int, email: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {'sub': str(user_id), 'email': email, 'iss': TOKEN_ISSUER, 'iat': issued, 'exp': issued + TOKEN_TTL}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def token_user_id(secret: str, token: str) -> int:
    """The user id a valid token names; InvalidToken says why it is not valid."""
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM], issuer=TOKEN_ISSUER,
                            options={'require': ['sub', 'exp', 'iss']})
        return int(claims['sub'])
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken('token expired') from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise InvalidToken('invalid token') from exc
