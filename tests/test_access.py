"""The dashboard's access rule: loopback by default, a password for anything else, a constant-time
check, slowed-down guessing."""
from __future__ import annotations

import hmac
import io

import pytest

from steu_core import access
from steu_core.access import (AccessError, AttemptLimiter, configured_password, is_loopback, password_matches,
                              startup_policy)
from steu_core.cli import main
from steu_core.password_hash import check_password, hash_password, parse_password_hash

GOOD = "correct horse battery staple"


@pytest.mark.parametrize("address,expected", [
    ("127.0.0.1", True), ("127.0.0.53", True), ("localhost", True), ("LOCALHOST", True), ("::1", True),
    ("[::1]", True), (None, False), ("", False), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
    ("192.168.0.10", False), ("steu.hospital.example", False), ("fe80::1", False)])
def test_is_loopback(address, expected):
    assert is_loopback(address) is expected


def test_password_from_environment_first_then_secrets():
    assert configured_password(secrets={}, environ={}) is None
    assert configured_password(secrets={"STEU_DASHBOARD_PASSWORD": "from-secrets"}, environ={}) == "from-secrets"
    assert configured_password(secrets={"STEU_DASHBOARD_PASSWORD": "from-secrets"},
                               environ={"STEU_DASHBOARD_PASSWORD": "from-env"}) == "from-env"
    assert configured_password(secrets={"STEU_DASHBOARD_PASSWORD": ""}, environ={"STEU_DASHBOARD_PASSWORD": ""}) is None


def test_missing_secrets_file_means_no_password():
    class NoSecrets:
        def get(self, key, default=None):
            raise FileNotFoundError("No secrets found")  # what st.secrets does without secrets.toml

    assert configured_password(secrets=NoSecrets(), environ={}) is None


def test_real_streamlit_secrets_without_a_file(monkeypatch, tmp_path):
    from streamlit import config

    with monkeypatch.context() as mp:
        mp.chdir(tmp_path)  # no .streamlit/secrets.toml here
        mp.setenv("HOME", str(tmp_path))
        mp.delenv("STEU_DASHBOARD_PASSWORD", raising=False)
        assert configured_password() is None
    # Reading st.secrets parsed Streamlit's config from tmp_path; read it again from the project.
    config.get_config_options(force_reparse=True)


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "10.0.0.5", "steu.hospital.example"])
def test_refuses_to_start_off_loopback_without_password(address):
    with pytest.raises(AccessError) as err:
        startup_policy(address, secrets={}, environ={})
    msg = str(err.value)
    assert "refusing to serve the dashboard" in msg and "STEU_DASHBOARD_PASSWORD" in msg and "127.0.0.1" in msg


def test_loopback_without_password_is_open():
    policy = startup_policy("127.0.0.1", secrets={}, environ={})
    assert not policy.password_required and policy.check(None)


@pytest.mark.parametrize("address", ["0.0.0.0", "127.0.0.1"])
def test_configured_password_is_required_everywhere(address):
    policy = startup_policy(address, secrets={}, environ={"STEU_DASHBOARD_PASSWORD": GOOD})
    assert policy.password_required
    assert policy.check(GOOD)
    for wrong in (None, "", GOOD[:-1], GOOD + " ", GOOD.upper(), "x" * 1000):
        assert not policy.check(wrong)
    assert GOOD not in repr(policy), "the password must not appear in logs of the policy"


def test_short_password_refused():
    with pytest.raises(AccessError, match="too short"):
        startup_policy("0.0.0.0", secrets={}, environ={"STEU_DASHBOARD_PASSWORD": "hunter2"})


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)
    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert password_matches(GOOD, GOOD) and not password_matches("short", GOOD)
    assert calls == [(32, 32), (32, 32)], "digests of equal length: neither content nor length leaks"


def test_limiter_slows_repeated_failures():
    now = [1000.0]
    limiter = AttemptLimiter(free=3, base_delay_s=2.0, max_delay_s=60.0, clock=lambda: now[0])
    policy = startup_policy("0.0.0.0", secrets={}, environ={"STEU_DASHBOARD_PASSWORD": GOOD})
    for _ in range(3):
        assert not limiter.attempt(policy, "guess", key="10.0.0.9")
    assert limiter.wait_s("10.0.0.9") == pytest.approx(2.0)
    assert not limiter.attempt(policy, GOOD, key="10.0.0.9"), "while locked even the right password waits"
    assert limiter.wait_s("other-client") == 0.0
    now[0] += 2.0
    assert not limiter.attempt(policy, "guess", key="10.0.0.9")
    assert limiter.wait_s("10.0.0.9") == pytest.approx(4.0)
    now[0] += 4.0
    assert limiter.attempt(policy, GOOD, key="10.0.0.9")
    assert limiter.wait_s("10.0.0.9") == 0.0


# -- forwarded headers and the back-off key --------------------------------------------------------
def _locked_out(limiter, policy, key) -> bool:
    return not limiter.attempt(policy, GOOD, key=key) and limiter.wait_s(key) > 0


def test_spoofed_forwarded_for_does_not_reset_the_back_off_without_a_trusted_proxy():
    policy = startup_policy("0.0.0.0", secrets={}, environ={"STEU_DASHBOARD_PASSWORD": GOOD})
    limiter = AttemptLimiter(free=3, base_delay_s=60.0, clock=lambda: 1000.0)
    keys = set()
    for i in range(12):  # uvicorn hands the app the spoofed address as the peer, and the header as sent
        spoof = f"10.9.{i}.1"
        key = policy.client_key(spoof, [spoof])
        keys.add(key)
        limiter.attempt(policy, "guess", key=key)
    assert keys == {access.FORWARDED_BUCKET}
    assert _locked_out(limiter, policy, policy.client_key("10.9.99.1", ["10.9.99.1"]))
    assert policy.client_key("192.0.2.4", None) == "192.0.2.4", "a direct client without headers is its own key"
    assert policy.client_key(None, None) == "127.0.0.1"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_key():
    env = {"STEU_DASHBOARD_PASSWORD": GOOD, "STEU_TRUSTED_PROXIES": "127.0.0.1"}
    policy = startup_policy("0.0.0.0", secrets={}, environ=env)
    assert {policy.client_key("203.0.113.9", [f"198.51.100.{i}"]) for i in range(10)} == {"203.0.113.9"}


def test_per_client_counter_behind_a_trusted_proxy():
    env = {"STEU_DASHBOARD_PASSWORD": GOOD, "STEU_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}
    policy = startup_policy("127.0.0.1", secrets={}, environ=env)
    limiter = AttemptLimiter(free=3, base_delay_s=60.0, clock=lambda: 1000.0)
    # the proxy appends the address it saw; whatever the attacker put to its left is ignored
    attacker = [policy.client_key(None, [f"1.2.3.{i}, 198.51.100.7"]) for i in range(6)]
    assert set(attacker) == {"198.51.100.7"}
    assert policy.client_key(None, ["198.51.100.7, 10.1.1.1"]) == "198.51.100.7", "a trusted inner proxy is skipped"
    assert policy.client_key("198.51.100.7", ["198.51.100.7"]) == "198.51.100.7", "a peer uvicorn already rewrote"
    assert policy.client_key("not-an-address", ["not-an-address"]) == access.FORWARDED_BUCKET
    for key in attacker:
        limiter.attempt(policy, "guess", key=key)
    assert _locked_out(limiter, policy, attacker[0])
    colleague = policy.client_key(None, ["198.51.100.8"])
    assert colleague == "198.51.100.8" and limiter.attempt(policy, GOOD, key=colleague), "no one else is locked out"


@pytest.mark.parametrize("value", ["nginx", "10.0.0.0/33", "127.0.0.1, not-an-ip"])
def test_an_unreadable_trusted_proxy_setting_refuses_to_start(value):
    with pytest.raises(AccessError, match="STEU_TRUSTED_PROXIES"):
        startup_policy("127.0.0.1", secrets={}, environ={"STEU_TRUSTED_PROXIES": value})


# -- the password as a salted hash -------------------------------------------------------------------
def test_hashed_password_accepted_and_wrong_one_refused():
    stored = hash_password(GOOD, n=2 ** 10)
    assert stored.startswith("scrypt$1024$8$1$") and GOOD not in stored
    assert hash_password(GOOD, n=2 ** 10) != stored, "a fresh salt each time"
    policy = startup_policy("0.0.0.0", secrets={"STEU_DASHBOARD_PASSWORD_HASH": stored}, environ={})
    assert policy.password_required and policy.check(GOOD)
    for wrong in (None, "", GOOD[:-1], GOOD + " ", GOOD.upper()):
        assert not policy.check(wrong)
    assert stored.split("$")[-1] not in repr(policy)


@pytest.mark.parametrize("stored,message", [
    ("correct horse battery staple", "not in the form"),
    ("scrypt$1024$8$1$!!!$abcd", "not base64"),
    ("scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5", "unsupported scrypt cost"),
    ("scrypt$1073741824$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5", "unsupported scrypt cost"),
])
def test_a_malformed_hash_refuses_to_start(stored, message):
    with pytest.raises(AccessError, match=message) as err:
        startup_policy("0.0.0.0", secrets={}, environ={"STEU_DASHBOARD_PASSWORD_HASH": stored})
    assert stored not in str(err.value)


def test_password_and_hash_together_are_refused():
    env = {"STEU_DASHBOARD_PASSWORD": GOOD, "STEU_DASHBOARD_PASSWORD_HASH": hash_password(GOOD, n=2 ** 10)}
    with pytest.raises(AccessError, match="both"):
        startup_policy("0.0.0.0", secrets={}, environ=env)


def test_hash_password_command(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    assert main(["hash-password"]) == 0
    stored = capsys.readouterr().out.strip()
    assert check_password(GOOD, parse_password_hash(stored)) and not check_password("guess", parse_password_hash(stored))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hash-password"]) == 2 and "too short" in capsys.readouterr().err
