"""Who may open the dashboard: the password check and the refuse-to-start rule.

The dashboard shows clinical-model evidence and accepts forget sets (PHI), so:

* it binds to ``127.0.0.1`` by default (only this machine can connect);
* served on any other address it **must** have a password - ``$STEU_DASHBOARD_PASSWORD``, or
  ``STEU_DASHBOARD_PASSWORD`` in Streamlit's ``secrets.toml`` - or it refuses to start
  (:func:`startup_policy` raises :class:`AccessError`);
* a password, when configured, is required on every address, loopback included;
* the check is constant-time (:func:`hmac.compare_digest` over SHA-256 digests, so neither the
  content nor the length of the password leaks through timing) and repeated failures are slowed
  down (:class:`AttemptLimiter`), counted per client (:func:`client_key`);
* the password may be configured as a salted scrypt hash instead (``$STEU_DASHBOARD_PASSWORD_HASH``,
  made by ``python -m steu_core hash-password``), so that the plain text is stored nowhere;
* ``X-Forwarded-For`` is believed only from a proxy named in ``$STEU_TRUSTED_PROXIES``.

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
from typing import Any, Callable, Mapping, Sequence

from .errors import ConfigError
from .password_hash import PasswordHash, check_password, parse_password_hash

PASSWORD_ENV = "STEU_DASHBOARD_PASSWORD"
SECRET_KEY = "STEU_DASHBOARD_PASSWORD"
PASSWORD_HASH_ENV = "STEU_DASHBOARD_PASSWORD_HASH"
TRUSTED_PROXIES_ENV = "STEU_TRUSTED_PROXIES"
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


def configured_setting(name: str, secrets: Mapping[str, Any] | None = None,
                       environ: Mapping[str, str] | None = None) -> str | None:
    """``$name`` first, then the Streamlit secret of the same name, else None.

    ``secrets`` defaults to ``st.secrets`` (read lazily; a missing secrets.toml means "none").
    """
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    if secrets is None:
        secrets = _streamlit_secrets()
    try:
        value = secrets.get(name) if secrets is not None else None
    except Exception:  # Streamlit raises (a FileNotFoundError subclass) when there is no secrets file
        value = None
    return str(value) if value else None


def configured_password(secrets: Mapping[str, Any] | None = None,
                        environ: Mapping[str, str] | None = None) -> str | None:
    """The dashboard password in plain text: ``$STEU_DASHBOARD_PASSWORD``, then Streamlit secrets, else None."""
    return configured_setting(PASSWORD_ENV, secrets, environ)


def configured_password_hash(secrets: Mapping[str, Any] | None = None,
                             environ: Mapping[str, str] | None = None) -> PasswordHash | None:
    """The dashboard password as a salted hash (``$STEU_DASHBOARD_PASSWORD_HASH`` or the secret), parsed."""
    text = configured_setting(PASSWORD_HASH_ENV, secrets, environ)
    if text is None:
        return None
    try:
        return parse_password_hash(text)
    except ConfigError as exc:
        raise AccessError(f"{PASSWORD_HASH_ENV}: {exc.message}", hint=exc.hint) from None


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
    _password_hash: PasswordHash | None = field(default=None, repr=False)
    trusted_proxies: tuple = ()

    @property
    def where(self) -> str:
        return self.address or "all network interfaces"

    def check(self, given: str | None) -> bool:
        if not self.password_required:
            return True
        if self._password_hash is not None:
            return check_password(given, self._password_hash)
        return self._password is not None and password_matches(given, self._password)

    def client_key(self, peer: str | None, forwarded_for: Sequence[str] | str | None = None) -> str:
        """The back-off counter's key for this connection (see :func:`client_key`)."""
        return client_key(peer, forwarded_for, self.trusted_proxies)


def startup_policy(address: str | None = DEFAULT_ADDRESS, *, secrets: Mapping[str, Any] | None = None,
                   environ: Mapping[str, str] | None = None) -> AccessPolicy:
    """Decide how the dashboard may serve on ``address``; raise AccessError if it must not start.

    * non-loopback address (or all interfaces) and no password: refused;
    * a configured password shorter than MIN_PASSWORD_LENGTH, or both a password and its hash: refused;
    * a configured password (or hash): required, whatever the address;
    * loopback and no password: open to this machine's users only.
    """
    password = configured_password(secrets, environ)
    hashed = configured_password_hash(secrets, environ)
    if password is not None and hashed is not None:
        raise AccessError(f"both {PASSWORD_ENV} and {PASSWORD_HASH_ENV} are set.",
                          hint=f"Keep only {PASSWORD_HASH_ENV} (the plain text need not be stored anywhere).")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the dashboard password is too short ({len(password)} characters; at least "
                          f"{MIN_PASSWORD_LENGTH} are required).",
                          hint=f"Set a longer {PASSWORD_ENV} (e.g. a passphrase of several words).")
    required = password is not None or hashed is not None
    if not is_loopback(address) and not required:
        where = f"'{address}'" if address else "all network interfaces (server.address unset)"
        raise AccessError(f"refusing to serve the dashboard on {where} without a password: anyone who can "
                          "reach this machine could read the audits and upload notes.",
                          hint=f"Bind to {DEFAULT_ADDRESS} (--server.address {DEFAULT_ADDRESS}), or set "
                               f"{PASSWORD_HASH_ENV} or {PASSWORD_ENV} (environment or .streamlit/secrets.toml), or "
                               "put the dashboard behind a TLS reverse proxy / OIDC login (docs/DEPLOYMENT.md).")
    return AccessPolicy(address=address, password_required=required, _password=password, _password_hash=hashed,
                        trusted_proxies=trusted_proxies(environ))


# -- whose attempt is it? ---------------------------------------------------------------------------
FORWARDED_BUCKET = "forwarded"  # every forwarded request when no proxy is trusted: one counter, headers unread
LOCAL_PEER = "127.0.0.1"        # Streamlit reports a loopback peer as None


def trusted_proxies(environ: Mapping[str, str] | None = None) -> tuple:
    """The networks named in ``$STEU_TRUSTED_PROXIES`` (addresses or CIDR ranges, comma-separated)."""
    env = os.environ if environ is None else environ
    nets = []
    for item in (x.strip() for x in (env.get(TRUSTED_PROXIES_ENV) or "").split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise AccessError(f"{TRUSTED_PROXIES_ENV}: {item[:60]!r} is not an IP address or network.",
                              hint="Name the reverse proxy's address as the dashboard sees it, e.g. "
                                   f"{TRUSTED_PROXIES_ENV}=127.0.0.1 for nginx on the same machine.") from None
    return tuple(nets)


def _ip(text: str | None):
    try:
        return ipaddress.ip_address(str(text).strip().strip("[]"))
    except ValueError:
        return None


def _trusted(addr, nets: tuple) -> bool:
    return addr is not None and any(addr.version == n.version and addr in n for n in nets)


def client_key(peer: str | None, forwarded_for: Sequence[str] | str | None, trusted: tuple) -> str:
    """Whose password attempt this is, for the back-off counter.

    ``peer`` is the address the web server reports; Streamlit's server (uvicorn) already replaces it
    with an ``X-Forwarded-For`` entry when the request came from 127.0.0.1, so while forwarded headers
    are present and no proxy is trusted, neither the header nor the peer is believed: every such
    request shares one counter (a spoofed header changes nothing). Behind a trusted proxy the key is
    the rightmost address in ``X-Forwarded-For`` that is not itself a trusted proxy: the client the
    proxy saw, so each client has its own counter. A peer that is not a trusted proxy is its own key.
    """
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for or [])
    hops = [h.strip() for v in values for h in str(v).split(",") if h.strip()]
    addr = _ip(peer or LOCAL_PEER)
    if not hops:
        return str(addr) if addr is not None else str(peer)
    if not trusted or addr is None:  # no proxy named, or a peer the server took from a header it could not parse
        return FORWARDED_BUCKET
    if not _trusted(addr, trusted):
        return str(addr) if addr is not None else str(peer)
    for hop in reversed(hops):
        hop_addr = _ip(hop)
        if hop_addr is None:
            return FORWARDED_BUCKET
        if not _trusted(hop_addr, trusted):
            return str(hop_addr)
    return str(addr)


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
