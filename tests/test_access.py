"""The dashboard's access rule: loopback by default, a password for anything else, a constant-time
check, slowed-down guessing."""
from __future__ import annotations

import hmac

import pytest

from steu_core import access
from steu_core.access import (AccessError, AttemptLimiter, configured_password, is_loopback, password_matches,
                              startup_policy)

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
