"""SASL authentication end to end with real clients against a real agent on SASL_PLAINTEXT:
confluent-kafka (librdkafka) and kafka-python with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, kcat with SCRAM;
wrong passwords and unknown users fail; `weft user` creates the first user offline (in the metastore) and
then manages users through the Kafka API, logged in itself."""

from __future__ import annotations

import os

import pytest
from confluent_kafka import KafkaError, Producer

from cliutil import failure, run, run_json
from clientutil import Rec, consume_confluent, consume_kafka_python, kcat, produce_confluent, \
    produce_kafka_python, unique_topic

ADMIN, ADMIN_PASSWORD = "admin", "admin-secret"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _confluent(mechanism: str, user: str, password: str) -> dict:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
            "sasl.username": user, "sasl.password": password}


def _kafka_python(mechanism: str, user: str, password: str) -> dict:
    return dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                sasl_plain_username=user, sasl_plain_password=password)


def _login_args(user: str = ADMIN, password: str = ADMIN_PASSWORD, mechanism: str = "SCRAM-SHA-256") -> list:
    return ["-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanism={mechanism}",
            "-X", f"sasl.username={user}", "-X", f"sasl.password={password}"]


@pytest.fixture(scope="module")
def sasl_agent(weft_bin, tmp_path_factory):
    """An agent requiring SASL, whose first user was created offline in its metastore."""
    from conftest import Agent
    data = tmp_path_factory.mktemp("weft-sasl")
    metastore = f"sqlite://{data}/meta.db"
    run(weft_bin, None, "user", "create", ADMIN, "--password", ADMIN_PASSWORD, "--metastore", metastore)
    listed = run_json(weft_bin, None, "user", "list", "--metastore", metastore)
    assert sorted((r["user"], r["mechanism"]) for r in listed) == [
        (ADMIN, "SCRAM-SHA-256"), (ADMIN, "SCRAM-SHA-512")]
    a = Agent(weft_bin, data, ["--listeners", "SASL_PLAINTEXT://127.0.0.1:{port}",
                               "--sasl-enabled-mechanisms", ",".join(MECHANISMS),
                               "--connection-failed-authentication-delay-ms", "20"])
    a.start()
    yield a
    a.stop()


def _auth_errors(bootstrap: str, conf: dict) -> list:
    """The errors a producer sees while trying to reach the cluster with `conf`."""
    errors: list = []
    p = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **conf})
    try:
        p.list_topics(timeout=5)
    except Exception:  # noqa: BLE001 - the errors seen are what is checked
        pass
    p.poll(1)
    return errors


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_kafka_produces_and_consumes(sasl_agent, mechanism):
    b = sasl_agent.bootstrap
    topic = unique_topic("sasl-ck")
    recs = [Rec(value=f"v{i}".encode(), key=b"k", partition=0) for i in range(5)]
    conf = _confluent(mechanism, ADMIN, ADMIN_PASSWORD)
    results = produce_confluent(b, topic, recs, **conf)
    assert all(err is None for err, _, _ in results), results
    got = consume_confluent(b, topic, [0], min_count=5, **conf)
    assert [r.value for r in got] == [r.value for r in recs]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafka_python_produces_and_consumes(sasl_agent, mechanism):
    b = sasl_agent.bootstrap
    topic = unique_topic("sasl-kp")
    recs = [Rec(value=f"kp{i}".encode(), key=b"k", partition=0) for i in range(3)]
    conf = _kafka_python(mechanism, ADMIN, ADMIN_PASSWORD)
    results = produce_kafka_python(b, topic, recs, **conf)
    assert all(err is None for err, _, _ in results), results
    got = consume_kafka_python(b, topic, [0], **conf)
    assert [r.value for r in got] == [r.value for r in recs]


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kcat_with_scram(sasl_agent, mechanism):
    b = sasl_agent.bootstrap
    topic = unique_topic("sasl-kcat")
    x = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanisms={mechanism}",
         "-X", f"sasl.username={ADMIN}", "-X", f"sasl.password={ADMIN_PASSWORD}"]
    kcat(b, *x, "-P", "-t", topic, "-p", "0", input=b"one\ntwo\n")
    out = kcat(b, *x, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q").stdout
    assert out.split() == [b"one", b"two"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_passwords_and_unknown_users_fail(sasl_agent, mechanism):
    b = sasl_agent.bootstrap
    for user, password in [(ADMIN, "wrong-password"), ("nobody", ADMIN_PASSWORD)]:
        errors = _auth_errors(b, _confluent(mechanism, user, password))
        codes = {e.code() for e in errors}
        assert KafkaError._AUTHENTICATION in codes, (user, errors)
        assert any("Authentication failed" in e.str() for e in errors), errors


def test_unauthenticated_clients_get_nothing(sasl_agent):
    errors = _auth_errors(sasl_agent.bootstrap, {})
    assert errors, "a plaintext client cannot use a SASL listener"
    log = sasl_agent.log_text()
    assert "during SASL authentication" in log


def test_weft_user_round_trip_through_the_kafka_api(sasl_agent, weft_bin):
    b = sasl_agent.bootstrap
    login = _login_args()
    run(weft_bin, b, "user", "create", "bob", "--password", "bob-secret", "--iterations", "8192", *login)
    rows = run_json(weft_bin, b, "user", "list", *login)
    assert {"user": "bob", "mechanism": "SCRAM-SHA-512", "iterations": 8192} in rows
    topic = unique_topic("sasl-bob")
    conf = _confluent("SCRAM-SHA-512", "bob", "bob-secret")
    assert all(e is None for e, _, _ in produce_confluent(b, topic, [Rec(partition=0, key=None, value=b"x")], **conf))

    run(weft_bin, b, "user", "delete", "bob", *login)
    rows = run_json(weft_bin, b, "user", "list", *login)
    assert all(r["user"] != "bob" for r in rows)
    codes = {e.code() for e in _auth_errors(b, conf)}
    assert KafkaError._AUTHENTICATION in codes

    # Refusals an operator sees: bad iterations, a wrong login, no login at all.
    bad = run(weft_bin, b, "user", "create", "carol", "--password", "x", "--iterations", "100", *login, ok=False)
    assert "iterations" in failure(bad)
    wrong = run(weft_bin, b, "user", "list", *_login_args(password="nope"), ok=False)
    assert "Authentication failed" in failure(wrong)
    anonymous = run(weft_bin, b, "user", "list", ok=False)
    assert failure(anonymous)


def test_plain_users_file(weft_bin, agent_factory, tmp_path):
    users = tmp_path / "users"
    users.write_text("# name:password\nfile-user:file-secret\n")
    os.chmod(users, 0o600)
    a = agent_factory("--listeners", "SASL_PLAINTEXT://127.0.0.1:{port}", "--sasl-enabled-mechanisms", "PLAIN",
                      "--sasl-plain-users-file", str(users))
    topic = unique_topic("sasl-file")
    conf = _confluent("PLAIN", "file-user", "file-secret")
    assert all(e is None for e, _, _ in produce_confluent(a.bootstrap, topic, [Rec(partition=0, key=None, value=b"f")], **conf))
    errors = _auth_errors(a.bootstrap, _confluent("SCRAM-SHA-256", "file-user", "file-secret"))
    assert any("SCRAM-SHA-256" in e.str() or e.code() == KafkaError._AUTHENTICATION for e in errors), errors


# --------------------------------------------------------------------------
# OAUTHBEARER: tokens signed by a key this test generates (openssl), its public half in a JWKS file
# --------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rsa_key(path) -> dict:
    """A fresh RSA key at `path`; returns its public JWK (kid k1)."""
    import subprocess
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)
    out = subprocess.run(["openssl", "rsa", "-in", str(path), "-noout", "-modulus"], check=True,
                         capture_output=True).stdout.decode()
    modulus = bytes.fromhex(out.strip().split("=", 1)[1])
    return {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": _b64url(modulus), "e": "AQAB"}


def _jwt(key_path, claims: dict) -> str:
    import json
    import subprocess
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_path)], input=signing_input,
                         check=True, capture_output=True).stdout
    return f"{header}.{payload}.{_b64url(sig)}"


@pytest.fixture(scope="module")
def oauth_agent(weft_bin, tmp_path_factory):
    import json
    from conftest import Agent
    keys = tmp_path_factory.mktemp("oauth-keys")
    good, other = keys / "good.pem", keys / "other.pem"
    jwk = _rsa_key(good)
    _rsa_key(other)
    (keys / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    a = Agent(weft_bin, tmp_path_factory.mktemp("weft-oauth"), [
        "--listeners", "SASL_PLAINTEXT://127.0.0.1:{port}",
        "--sasl-enabled-mechanisms", "OAUTHBEARER",
        "--sasl-oauthbearer-jwks-endpoint-url", f"file://{keys}/jwks.json",
        "--sasl-oauthbearer-expected-issuer", "https://issuer.test",
        "--sasl-oauthbearer-expected-audience", "weft,other",
        "--connection-failed-authentication-delay-ms", "20"])
    a.start()
    yield a, good, other
    a.stop()


def _oauth_conf(token: str) -> dict:
    import time
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
            "oauth_cb": lambda _config: (token, time.time() + 300)}


def _claims(**over) -> dict:
    import time
    now = int(time.time())
    c = {"sub": "service-a", "iss": "https://issuer.test", "aud": "weft", "iat": now, "exp": now + 600}
    c.update(over)
    return c


def test_oauthbearer_valid_token_produces_and_consumes(oauth_agent):
    a, good, _ = oauth_agent
    conf = _oauth_conf(_jwt(good, _claims()))
    topic = unique_topic("sasl-oauth")
    recs = [Rec(partition=0, key=None, value=b"o1"), Rec(partition=0, key=None, value=b"o2")]
    assert all(e is None for e, _, _ in produce_confluent(a.bootstrap, topic, recs, **conf))
    got = consume_confluent(a.bootstrap, topic, [0], min_count=2, **conf)
    assert [r.value for r in got] == [b"o1", b"o2"]


@pytest.mark.parametrize("case", ["expired", "mis-signed", "wrong-audience", "wrong-issuer", "not-yet-valid"])
def test_oauthbearer_bad_tokens_fail(oauth_agent, case):
    import time
    a, good, other = oauth_agent
    now = int(time.time())
    token = {
        "expired": lambda: _jwt(good, _claims(exp=now - 120)),
        "mis-signed": lambda: _jwt(other, _claims()),
        "wrong-audience": lambda: _jwt(good, _claims(aud="someone-else")),
        "wrong-issuer": lambda: _jwt(good, _claims(iss="https://evil.test")),
        "not-yet-valid": lambda: _jwt(good, _claims(nbf=now + 600)),
    }[case]()
    errors = _auth_errors(a.bootstrap, _oauth_conf(token))
    assert KafkaError._AUTHENTICATION in {e.code() for e in errors}, (case, errors)
    assert "sasl authentication failed" in a.log_text()
