"""Who may open the dashboard: the password check and the refuse-to-start rule.

The dashboard shows clinical-model evidence and accepts forget sets (PHI), so:

* it binds to ``127.0.0.1`` by default (only this machine can connect);
* served on any other address it **must** have a password - ``$STEU_DASHBOARD_PASSWORD``, or
  ``STEU_DASHBOARD_PASSWORD`` in Streamlit's ``secrets.toml`` - or it refuses to start
  (:func:`startup_policy` raises :class:`AccessError`);
* a password, when configured, is required on every address, loopback included;
* the check is constant-time (:func:`hmac.compare_digest` over SHA-256 digests, so neither the
  content nor the length of the password leaks through timing) and repeated failures are slowed
  down (:class:`AttemptLimiter`).

This module holds logic only; the dashboard draws the prompt (see docs/DEPLOYMENT.md). For single
sign-on use Streamlit's OIDC login (``st.login``) or a reverse proxy instead, as described there.
Nothing here imports Streamlit at module level.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import ConfigError

PASSWORD_ENV = "STEU_DASHBOARD_PASSWORD"
SECRET_KEY = "STEU_DASHBOARD_PASSWORD"
MIN_PASSWORD_LENGTH = 12
DEFAULT_ADDRESS = "127.0.0.1"


class AccessError(ConfigError):
    """The dashboard must not start (or must not let this person in) as configured."""


def is_loopback(address: str | None) -> bool:
    """True only for addresses reachable from this machine alone.

    An empty/unset address means "all interfaces" to Streamlit, as do 0.0.0.0 and ::, so those are
    *not* loopback. ``localhost`` is; any other host name is treated as reachable from outside.
    """
    if address is None:
        return False
    a = str(address).strip().strip("[]")
    if not a:
        return False
    if a.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def configured_password(secrets: Mapping[str, Any] | None = None,
                        environ: Mapping[str, str] | None = None) -> str | None:
    """The dashboard password: ``$STEU_DASHBOARD_PASSWORD`` first, then Streamlit secrets, else None.

    ``secrets`` defaults to ``st.secrets`` (read lazily; a missing secrets.toml means "none").
    """
    env = os.environ if environ is None else environ
    value = env.get(PASSWORD_ENV)
    if value:
        return value
    if secrets is None:
        secrets = _streamlit_secrets()
    try:
        value = secrets.get(SECRET_KEY) if secrets is not None else None
    except Exception:  # Streamlit raises (a FileNotFoundError subclass) when there is no secrets file
        value = None
    return str(value) if value else None


def _streamlit_secrets():
    try:
        import streamlit as st

        return st.secrets
    except Exception:
        return None


def server_address() -> str | None:
    """The address Streamlit is (or will be) serving on: ``server.address`` (None = all interfaces)."""
    try:
        from streamlit import config

        value = config.get_option("server.address")
    except Exception:
        return None
    return str(value) if value else None


def password_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a typed password with the configured one."""
    if given is None:
        return False
    a = hashlib.sha256(str(given).encode("utf-8")).digest()
    b = hashlib.sha256(str(expected).encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


@dataclass(frozen=True)
class AccessPolicy:
    """What the dashboard must do: ask for a password or not. The password is never in repr()."""

    address: str | None
    password_required: bool
    _password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return self.address or "all network interfaces"

    def check(self, given: str | None) -> bool:
        if not self.password_required:
            return True
        return self._password is not None and password_matches(given, self._password)


def startup_policy(address: str | None = DEFAULT_ADDRESS, *, secrets: Mapping[str, Any] | None = None,
                   environ: Mapping[str, str] | None = None) -> AccessPolicy:
    """Decide how the dashboard may serve on ``address``; raise AccessError if it must not start.

    * non-loopback address (or all interfaces) and no password: refused;
    * a configured password shorter than MIN_PASSWORD_LENGTH: refused;
    * a configured password: required, whatever the address;
    * loopback and no password: open to this machine's users only.
    """
    password = configured_password(secrets, environ)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the dashboard password is too short ({len(password)} characters; at least "
                          f"{MIN_PASSWORD_LENGTH} are required).",
                          hint=f"Set a longer {PASSWORD_ENV} (e.g. a passphrase of several words).")
    if not is_loopback(address) and password is None:
        where = f"'{address}'" if address else "all network interfaces (server.address unset)"
        raise AccessError(f"refusing to serve the dashboard on {where} without a password: anyone who can "
                          "reach this machine could read the audits and upload notes.",
                          hint=f"Bind to {DEFAULT_ADDRESS} (--server.address {DEFAULT_ADDRESS}), or set "
                               f"{PASSWORD_ENV} (environment or .streamlit/secrets.toml), or put the "
                               "dashboard behind a TLS reverse proxy / OIDC login (docs/DEPLOYMENT.md).")
    return AccessPolicy(address=address, password_required=password is not None, _password=password)


class AttemptLimiter:
    """Slows down password guessing: after ``free`` consecutive failures for a key, each further
    attempt must wait ``base_delay_s * 2**(failures - free)`` seconds (capped), until a success.

    Process-wide and in memory (Streamlit runs one process); key by client address or session.
    """

    def __init__(self, free: int = 5, base_delay_s: float = 2.0, max_delay_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.base, self.cap, self.clock = free, base_delay_s, max_delay_s, clock
        self._fails: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str = "") -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            n, last = self._fails.get(key, (0, 0.0))
        if n < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (n - self.free))
        return max(0.0, last + delay - self.clock())

    def attempt(self, policy: AccessPolicy, given: str | None, key: str = "") -> bool:
        """Check ``given`` against ``policy``; False (without checking) while ``key`` must wait."""
        if not policy.password_required:
            return True
        if self.wait_s(key) > 0:
            return False
        ok = policy.check(given)
        with self._lock:
            if ok:
                self._fails.pop(key, None)
            else:
                n, _ = self._fails.get(key, (0, 0.0))
                self._fails[key] = (n + 1, self.clock())
        return ok
