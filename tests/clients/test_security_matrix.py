"""The real-client security matrix against one secured agent (see ``secured.py``): every SASL mechanism over
SASL_PLAINTEXT and SASL_SSL with confluent-kafka, kafka-python and kcat, each producing and consuming; wrong
passwords, expired, mis-signed and wrong-audience tokens and an untrusted server certificate fail; and an
ACL matrix with SASL users: each operation denied with Kafka's error without its ACL, allowed with it."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ConfigResource, ConfigEntry,
                                   AlterConfigOpType, NewTopic, ResourcePatternType, ResourceType,
                                   ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion)

from clientutil import (Rec, admin_client, consume_confluent, consume_kafka_python, consumer, future_error, kcat,
                        produce_confluent, produce_kafka_python, unique_topic)
from secured import ADMIN, ADMIN_PASSWORD, start_secured_agent

PROTOCOLS = ["SASL_PLAINTEXT", "SASL_SSL"]
PASSWORD_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TIMEOUT = 30


@pytest.fixture(scope="module")
def secured(weft_bin, tmp_path_factory):
    a = start_secured_agent(weft_bin, tmp_path_factory)
    yield a
    a.stop()


def _auth_errors(bootstrap: str, conf: dict) -> list:
    errors: list = []
    p = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, "log_level": 0, **conf})
    try:
        p.list_topics(timeout=5)
    except KafkaException:
        pass
    p.poll(1)
    return errors


def _kafka_python_conf(a, protocol: str, mechanism: str) -> dict:
    conf = dict(security_protocol=protocol, sasl_mechanism=mechanism)
    if protocol == "SASL_SSL":
        conf["ssl_cafile"] = str(a.files / "ca.pem")
    if mechanism == "OAUTHBEARER":
        from kafka.net.sasl.oauth import AbstractTokenProvider

        class Tokens(AbstractTokenProvider):
            def token(self):
                return a.token()

        conf["sasl_oauth_token_provider"] = Tokens()
    else:
        conf.update(sasl_plain_username=ADMIN, sasl_plain_password=ADMIN_PASSWORD)
    return conf


def _kcat_args(a, protocol: str, mechanism: str, ca: str = "ca") -> list:
    x = ["-X", f"security.protocol={protocol}", "-X", f"sasl.mechanisms={mechanism}",
         "-X", f"sasl.username={ADMIN}", "-X", f"sasl.password={ADMIN_PASSWORD}"]
    if protocol == "SASL_SSL":
        x += ["-X", f"ssl.ca.location={a.files / f'{ca}.pem'}"]
    return x


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mechanism", PASSWORD_MECHANISMS + ["OAUTHBEARER"])
@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "kcat"])
def test_each_mechanism_on_each_listener_produces_and_consumes(secured, protocol, mechanism, client):
    b = secured.bootstrap_of(protocol)
    topic = unique_topic(f"mx-{client}")
    recs = [Rec(partition=0, key=b"k", value=f"{mechanism}-{i}".encode()) for i in range(3)]
    if client == "confluent-kafka":
        conf = secured.confluent(protocol, mechanism)
        assert all(err is None for err, _, _ in produce_confluent(b, topic, recs, **conf))
        got = consume_confluent(b, topic, [0], min_count=3, **conf)
    elif client == "kafka-python":
        conf = _kafka_python_conf(secured, protocol, mechanism)
        assert all(err is None for err, _, _ in produce_kafka_python(b, topic, recs, **conf))
        got = consume_kafka_python(b, topic, [0], **conf)
    else:
        if mechanism == "OAUTHBEARER":
            pytest.skip("kcat's librdkafka 2.0.2 has no OIDC token source; it can only send unsigned tokens, "
                        "which test_unsigned_kcat_token_fails shows are refused")
        x = _kcat_args(secured, protocol, mechanism)
        kcat(b, *x, "-P", "-t", topic, "-p", "0", input=b"".join(r.value + b"\n" for r in recs))
        out = kcat(b, *x, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q").stdout
        assert out.split() == [r.value for r in recs]
        return
    assert [r.value for r in got] == [r.value for r in recs]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mechanism", PASSWORD_MECHANISMS)
def test_wrong_passwords_fail(secured, protocol, mechanism):
    conf = secured.confluent(protocol, mechanism, password="not-the-password")
    errors = _auth_errors(secured.bootstrap_of(protocol), conf)
    assert KafkaError._AUTHENTICATION in {e.code() for e in errors}, errors


@pytest.mark.parametrize("case", ["expired", "mis-signed", "wrong-audience"])
def test_bad_tokens_fail_over_sasl_ssl(secured, case):
    token = {
        "expired": lambda: secured.token(exp=int(time.time()) - 120),
        "mis-signed": lambda: secured.token(key="other"),
        "wrong-audience": lambda: secured.token(aud="someone-else"),
    }[case]()
    errors = _auth_errors(secured.bootstrap_of("SASL_SSL"), secured.confluent("SASL_SSL", "OAUTHBEARER", token=token))
    assert KafkaError._AUTHENTICATION in {e.code() for e in errors}, (case, errors)


def test_unsigned_kcat_token_fails(secured):
    b = secured.bootstrap_of("SASL_PLAINTEXT")
    cp = kcat(b, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=OAUTHBEARER",
              "-X", "enable.sasl.oauthbearer.unsecure.jwt=true", "-X", f"sasl.oauthbearer.config=principal={ADMIN}",
              "-L", "-m", "5", check=False, timeout=30)
    assert cp.returncode != 0
    assert b"Authentication failed" in cp.stderr or b"SASL authentication error" in cp.stderr, cp.stderr


def test_untrusted_server_certificate_fails(secured):
    b = secured.bootstrap_of("SASL_SSL")
    errors = _auth_errors(b, secured.confluent("SASL_SSL", "SCRAM-SHA-256", ca="rogue-ca"))
    assert KafkaError._SSL in {e.code() for e in errors} or any("certificate" in e.str() for e in errors), errors
    from kafka import KafkaProducer
    from kafka.errors import KafkaError as KafkaPythonError
    with pytest.raises(KafkaPythonError):
        KafkaProducer(bootstrap_servers=b, security_protocol="SASL_SSL", ssl_cafile=str(secured.files / "rogue-ca.pem"),
                      sasl_mechanism="PLAIN", sasl_plain_username=ADMIN, sasl_plain_password=ADMIN_PASSWORD,
                      request_timeout_ms=6000, max_block_ms=6000)
    cp = kcat(b, *_kcat_args(secured, "SASL_SSL", "PLAIN", ca="rogue-ca"), "-L", "-m", "5", check=False, timeout=30)
    assert cp.returncode != 0 and b"certificate verify failed" in cp.stderr, cp.stderr


# --------------------------------------------------------------------------
# The ACL matrix: a fresh SCRAM user per case, denied first, then allowed once its ACLs exist.
# --------------------------------------------------------------------------

def _admin(a):
    return admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **a.confluent("SASL_PLAINTEXT", "SCRAM-SHA-256"))


def _new_user(a, name: str) -> dict:
    admin = _admin(a)
    up = UserScramCredentialUpsertion(name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"pw-" + name.encode())
    for f in admin.alter_user_scram_credentials([up], request_timeout=TIMEOUT).values():
        assert future_error(f, TIMEOUT) is None
    return a.confluent("SASL_PLAINTEXT", "SCRAM-SHA-256", user=name, password="pw-" + name)


def _grant(a, user: str, *acls):
    if not acls:
        return
    admin = _admin(a)
    bindings = [AclBinding(rtype, name, ResourcePatternType.LITERAL, f"User:{user}", "*", op, AclPermissionType.ALLOW)
                for rtype, name, op in acls]
    for f in admin.create_acls(bindings, request_timeout=TIMEOUT).values():
        assert future_error(f, TIMEOUT) is None


def _code(exc_or_err) -> int:
    if exc_or_err is None:
        return KafkaError.NO_ERROR
    if isinstance(exc_or_err, KafkaException):
        exc_or_err = exc_or_err.args[0]
    return exc_or_err.code()


def _produce(a, conf, topic, **extra) -> int:
    b = a.bootstrap_of("SASL_PLAINTEXT")
    errors: list = []
    try:
        res = produce_confluent(b, topic, [Rec(partition=0, key=None, value=b"x")], timeout=TIMEOUT,
                                **{"message.timeout.ms": 10000, "error_cb": errors.append, **conf, **extra})
    except (KafkaException, SystemError) as e:  # a fatal error (idempotence refused) surfaces while flushing
        cause = e if isinstance(e, KafkaException) else (e.__cause__ or e.__context__)
        assert isinstance(cause, KafkaException) and cause.args[0].fatal(), (e, errors)
        return _code(cause)
    return _code(res[0][0])


def op_produce(a, conf, t):
    return _produce(a, conf, t["topic"])


def op_idempotent_produce(a, conf, t):
    return _produce(a, conf, t["topic"], **{"enable.idempotence": True})


def op_fetch(a, conf, t):
    c = consumer(a.bootstrap_of("SASL_PLAINTEXT"), **{**conf, "group.id": t["group"]})
    try:
        c.assign([TopicPartition(t["topic"], 0, 0)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is not None and m.error().code() != KafkaError._PARTITION_EOF:
                return m.error().code()
            if m is not None and m.error() is None:
                return KafkaError.NO_ERROR
        return KafkaError._TIMED_OUT
    finally:
        c.close()


def op_commit(a, conf, t):
    c = consumer(a.bootstrap_of("SASL_PLAINTEXT"), **{**conf, "group.id": t["group"]})
    try:
        c.commit(offsets=[TopicPartition(t["topic"], 0, 1)], asynchronous=False)
        return KafkaError.NO_ERROR
    except KafkaException as e:
        return _code(e)
    finally:
        c.close()


def op_describe(a, conf, t):
    md = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf).list_topics(topic=t["topic"], timeout=TIMEOUT)
    return _code(md.topics[t["topic"]].error)


def op_create(a, conf, t):
    admin = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf)
    name = t["new_topic"]
    return _code(future_error(admin.create_topics([NewTopic(name, 1)], request_timeout=TIMEOUT)[name], TIMEOUT))


def op_delete(a, conf, t):
    admin = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf)
    return _code(future_error(admin.delete_topics([t["topic"]], request_timeout=TIMEOUT)[t["topic"]], TIMEOUT))


def op_alter_configs(a, conf, t):
    admin = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf)
    r = ConfigResource("TOPIC", t["topic"], incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    return _code(future_error(admin.incremental_alter_configs([r], request_timeout=TIMEOUT)[r], TIMEOUT))


def op_describe_group(a, conf, t):
    admin = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf)
    f = admin.describe_consumer_groups([t["group"]], request_timeout=TIMEOUT)[t["group"]]
    return _code(future_error(f, TIMEOUT))


def op_transactions(a, conf, t):
    p = Producer({"bootstrap.servers": a.bootstrap_of("SASL_PLAINTEXT"), "transactional.id": t["txn"], **conf})
    try:
        p.init_transactions(TIMEOUT)
        p.begin_transaction()
        p.produce(t["topic"], b"in-txn")
        p.commit_transaction(TIMEOUT)
        return KafkaError.NO_ERROR
    except KafkaException as e:
        return _code(e)


def op_cluster(a, conf, t):
    admin = admin_client(a.bootstrap_of("SASL_PLAINTEXT"), **conf)
    b = AclBinding(ResourceType.TOPIC, t["topic"], ResourcePatternType.LITERAL, "User:nobody", "*",
                   AclOperation.READ, AclPermissionType.DENY)
    return _code(future_error(admin.create_acls([b], request_timeout=TIMEOUT)[b], TIMEOUT))


T, G, X, C = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID, ResourceType.BROKER
E = KafkaError
# (case, operation, the ACLs that allow it, the error without them, ACLs held beforehand)
MATRIX = [
    ("produce", op_produce, [(T, "topic", AclOperation.WRITE)], E.TOPIC_AUTHORIZATION_FAILED, []),
    # librdkafka's consumer looks its group's coordinator up even when it only assigns: READ group held. It
    # also holds DESCRIBE on the topic, so that the topic is in Metadata and the denial is Fetch's (without
    # DESCRIBE, Metadata already refuses the topic and an assigning librdkafka consumer waits for it silently,
    # as against Kafka).
    ("consume-fetch", op_fetch, [(T, "topic", AclOperation.READ)], E.TOPIC_AUTHORIZATION_FAILED,
     [(G, "group", AclOperation.READ), (T, "topic", AclOperation.DESCRIBE)]),
    # FindCoordinator answers GROUP_AUTHORIZATION_FAILED; librdkafka's commit reports it as waiting for one.
    ("consume-commit-needs-group", op_commit, [(G, "group", AclOperation.READ)], E._WAIT_COORD,
     [(T, "topic", AclOperation.READ)]),
    ("consume-commit-needs-topic", op_commit, [(T, "topic", AclOperation.READ)], E.TOPIC_AUTHORIZATION_FAILED,
     [(G, "group", AclOperation.READ)]),
    ("describe", op_describe, [(T, "topic", AclOperation.DESCRIBE)], E.TOPIC_AUTHORIZATION_FAILED, []),
    ("create", op_create, [(T, "new_topic", AclOperation.CREATE)], E.TOPIC_AUTHORIZATION_FAILED, []),
    ("delete", op_delete, [(T, "topic", AclOperation.DELETE)], E.TOPIC_AUTHORIZATION_FAILED, []),
    ("alter-configs", op_alter_configs, [(T, "topic", AclOperation.ALTER_CONFIGS)], E.TOPIC_AUTHORIZATION_FAILED, []),
    ("group", op_describe_group, [(G, "group", AclOperation.DESCRIBE)], E.GROUP_AUTHORIZATION_FAILED, []),
    ("transactional-id", op_transactions, [(X, "txn", AclOperation.WRITE)], E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
     [(T, "topic", AclOperation.WRITE)]),
    ("idempotent-write", op_idempotent_produce, [(C, "kafka-cluster", AclOperation.IDEMPOTENT_WRITE),
                                                 (T, "topic", AclOperation.WRITE)],
     E.CLUSTER_AUTHORIZATION_FAILED, [(T, "topic", AclOperation.DESCRIBE)]),
    ("cluster", op_cluster, [(C, "kafka-cluster", AclOperation.ALTER)], E.CLUSTER_AUTHORIZATION_FAILED, []),
]


def _names(t: dict, acls) -> list:
    return [(rtype, t.get(key, key), op) for rtype, key, op in acls]


UNEXPLAINED: dict = {}


def _param(m):
    marks = [pytest.mark.xfail(strict=True, reason=UNEXPLAINED[m[0]])] if m[0] in UNEXPLAINED else []
    return pytest.param(*m, marks=marks, id=m[0])


@pytest.mark.parametrize("case,operation,needed,denied,held", [_param(m) for m in MATRIX])
def test_acl_matrix(secured, case, operation, needed, denied, held):
    user = unique_topic(f"u-{case}")
    t = {"topic": unique_topic(f"acl-{case}"), "new_topic": unique_topic(f"acl-new-{case}"),
         "group": unique_topic(f"g-{case}"), "txn": unique_topic(f"tx-{case}")}
    admin_conf = secured.confluent("SASL_PLAINTEXT", "SCRAM-SHA-256")
    assert _produce(secured, admin_conf, t["topic"]) == E.NO_ERROR, "the admin sets the topic up"
    conf = _new_user(secured, user)
    _grant(secured, user, *_names(t, held))
    got = operation(secured, conf, t)
    assert got == denied, f"{case} without its ACL: {KafkaError(got)}"
    _grant(secured, user, *_names(t, needed))
    got = operation(secured, conf, t)
    assert got == E.NO_ERROR, f"{case} with its ACL: {KafkaError(got)}"


def test_weft_bench_runs_against_a_sasl_ssl_listener(secured, weft_bin, tmp_path):
    import json
    from cliutil import run
    props = tmp_path / "client.properties"
    props.write_text("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                     f"sasl.username={ADMIN}\nsasl.password={ADMIN_PASSWORD}\n"
                     f"ssl.ca.location={secured.files / 'ca.pem'}\n")
    topic = unique_topic("bench-sasl-ssl")
    cp = run(weft_bin, None, "bench", "--bootstrap-servers", secured.bootstrap_of("SASL_SSL"), "--topic", topic,
             "--partitions", "2", "--records", "300", "--record-size", "100", "--e2e-duration-secs", "1",
             "--warmup-secs", "0", "--rate", "200", "--command-config", str(props), "-X", "client.id=bench-sasl",
             "--json", timeout=120)
    summary = json.loads(cp.stdout.decode().strip().splitlines()[-1])
    assert summary["produce"]["records"] == 300 and summary["produce"]["errors"] == 0, summary
    assert summary["consume"]["records"] == 300, summary
    assert summary["e2e"]["received"] > 0, summary
    # Without the file the same bench cannot reach the SASL_SSL listener.
    bad = run(weft_bin, None, "bench", "--bootstrap-servers", secured.bootstrap_of("SASL_SSL"), "--topic", topic,
              "--mode", "produce", "--records", "10", "--timeout-secs", "3", "--json", ok=False, timeout=60)
    assert bad.returncode != 0
