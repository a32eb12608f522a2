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
    a = Agent(weft_bin, data, ["--listener-security-protocol", "SASL_PLAINTEXT",
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
    a = agent_factory("--listener-security-protocol", "SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "PLAIN",
                      "--sasl-plain-users-file", str(users))
    topic = unique_topic("sasl-file")
    conf = _confluent("PLAIN", "file-user", "file-secret")
    assert all(e is None for e, _, _ in produce_confluent(a.bootstrap, topic, [Rec(partition=0, key=None, value=b"f")], **conf))
    errors = _auth_errors(a.bootstrap, _confluent("SCRAM-SHA-256", "file-user", "file-secret"))
    assert any("SCRAM-SHA-256" in e.str() or e.code() == KafkaError._AUTHENTICATION for e in errors), errors
