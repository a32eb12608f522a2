"""Named listeners and TLS with real clients: confluent-kafka, kafka-python and kcat produce and consume over
an SSL listener; a PLAINTEXT and an SSL listener side by side each advertise their own endpoint in Metadata;
mTLS required refuses a client without a certificate and one with an untrusted certificate; a certificate
replaced on disk is served to the next connection; ``weft`` client commands speak SSL with ``-X`` and
``--command-config``; the admin listener serves HTTPS with ``--admin-ssl``.

Certificates are generated per module with the ``openssl`` command line in a temporary directory.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from clientutil import unique_topic, wait_for
from cliutil import failure, run, run_json
from conftest import Agent
from servers import free_ports


def openssl(d: Path, *args: str):
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)


def issue(d: Path, ca: str, name: str, subject: str, ext: str = "basicConstraints=CA:FALSE"):
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
    (d / f"{name}.ext").write_text(ext)
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "rogue-ca"):
        openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", f"/CN=weft test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    issue(d, "ca", "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    issue(d, "ca", "alice", "/C=US/O=Acme/OU=eng/CN=alice")
    issue(d, "rogue-ca", "mallory", "/CN=mallory")
    return d


class ListenerAgent(Agent):
    """An agent with a PLAINTEXT and an SSL listener (``--listeners``) on fixed ports."""

    def __init__(self, *args, plain_port: int, ssl_port: int, **kw):
        super().__init__(*args, **kw)
        self.plain_port, self.ssl_port = plain_port, ssl_port

    def _argv(self, kafka_port: int, admin_port: int) -> list:
        return [self.binary, "agent",
                "--listeners", f"PLAINTEXT://127.0.0.1:{self.plain_port},SSL://127.0.0.1:{self.ssl_port}",
                "--advertised-listeners", f"SSL://localhost:{self.ssl_port}",
                "--admin-listen", f"127.0.0.1:{admin_port}", "--schema-registry-listen", "off",
                "--data-dir", self.data_dir, *self.extra_args]


@pytest.fixture
def tls_agent(weft_bin, tmp_path_factory, certs, request):
    made = []
    request.node._weft_agents = made

    def make(*extra, client_auth="requested", keystore: Path = None, key: Path = None) -> ListenerAgent:
        plain_port, ssl_port = free_ports(2)
        a = ListenerAgent(weft_bin, tmp_path_factory.mktemp("weft-data"), [
            "--ssl-keystore-location", str(keystore or certs / "server.pem"),
            "--ssl-key-location", str(key or certs / "server.key"),
            "--ssl-truststore-location", str(certs / "ca.pem"),
            "--ssl-client-auth", client_auth, *extra,
        ], plain_port=plain_port, ssl_port=ssl_port)
        made.append(a)
        a.start()
        return a

    yield make
    for a in made:
        a.stop()


def ssl_conf(certs: Path, identity: str = None) -> dict:
    conf = {"security.protocol": "SSL", "ssl.ca.location": str(certs / "ca.pem")}
    if identity:
        conf["ssl.certificate.location"] = str(certs / f"{identity}.pem")
        conf["ssl.key.location"] = str(certs / f"{identity}.key")
    return conf


def ssl_bootstrap(a: ListenerAgent) -> str:
    return f"localhost:{a.ssl_port}"


def produce_consume_confluent(bootstrap: str, conf: dict, topic: str, n: int = 20) -> list:
    p = Producer({"bootstrap.servers": bootstrap, "log_level": 2, **conf})
    for i in range(n):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert p.flush(30) == 0, "every record delivered"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("g"), "auto.offset.reset": "earliest",
                  "log_level": 2, **conf})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value().decode())
    c.close()
    return got


def test_confluent_kafka_produces_and_consumes_over_ssl(tls_agent, certs):
    a = tls_agent()
    topic = unique_topic("tls")
    got = produce_consume_confluent(ssl_bootstrap(a), ssl_conf(certs), topic)
    assert got == [f"v{i}" for i in range(20)]


def test_kafka_python_produces_and_consumes_over_ssl(tls_agent, certs):
    from kafka import KafkaConsumer, KafkaProducer
    a = tls_agent()
    topic = unique_topic("tls-kp")
    conf = {"security_protocol": "SSL", "ssl_cafile": str(certs / "ca.pem")}
    p = KafkaProducer(bootstrap_servers=ssl_bootstrap(a), **conf)
    for i in range(10):
        p.send(topic, f"m{i}".encode()).get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=ssl_bootstrap(a), auto_offset_reset="earliest",
                      consumer_timeout_ms=15000, group_id=unique_topic("g"), **conf)
    got = [m.value.decode() for m in c]
    c.close()
    assert got == [f"m{i}" for i in range(10)]


def test_kcat_produces_and_consumes_over_ssl_with_a_client_certificate(tls_agent, certs):
    a = tls_agent(client_auth="required")
    topic = unique_topic("tls-kcat")
    opts = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={certs / 'ca.pem'}",
            "-X", f"ssl.certificate.location={certs / 'alice.pem'}", "-X", f"ssl.key.location={certs / 'alice.key'}"]
    subprocess.run(["kcat", "-b", ssl_bootstrap(a), *opts, "-P", "-t", topic], input=b"one\ntwo\nthree\n",
                   check=True, capture_output=True, timeout=60)
    out = subprocess.run(["kcat", "-b", ssl_bootstrap(a), *opts, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q"], check=True, capture_output=True, timeout=60)
    assert out.stdout.decode().split() == ["one", "two", "three"]


def test_each_listener_advertises_its_own_endpoint_in_metadata(tls_agent, certs):
    a = tls_agent()
    plain = AdminClient({"bootstrap.servers": f"127.0.0.1:{a.plain_port}"}).list_topics(timeout=15)
    over_ssl = AdminClient({"bootstrap.servers": ssl_bootstrap(a), **ssl_conf(certs)}).list_topics(timeout=15)
    assert [(b.host, b.port) for b in plain.brokers.values()] == [("127.0.0.1", a.plain_port)]
    assert [(b.host, b.port) for b in over_ssl.brokers.values()] == [("localhost", a.ssl_port)]
    # Clients of both listeners see the same data.
    topic = unique_topic("both")
    assert produce_consume_confluent(f"127.0.0.1:{a.plain_port}", {}, topic, 3) == ["v0", "v1", "v2"]
    assert produce_consume_confluent(ssl_bootstrap(a), ssl_conf(certs), topic, 3)[:3] == ["v0", "v1", "v2"]


def handshake(port: int, certs: Path, identity: str = None) -> bytes:
    """A TLS connection that sends an ApiVersions request and returns the answer's first bytes
    (an empty answer when the agent closed the connection)."""
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if identity:
        ctx.load_cert_chain(str(certs / f"{identity}.pem"), str(certs / f"{identity}.key"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            # ApiVersions v0: api key 18, version 0, correlation id 1, no client id.
            s.sendall(bytes([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF]))
            return s.recv(4)


def test_mtls_required_refuses_clients_without_a_trusted_certificate(tls_agent, certs):
    a = tls_agent(client_auth="required")
    assert len(handshake(a.ssl_port, certs, "alice")) == 4, "a trusted certificate is served"
    for identity in (None, "mallory"):
        try:
            answer = handshake(a.ssl_port, certs, identity)
        except (ssl.SSLError, OSError):
            answer = b""
        assert answer == b"", f"{identity}: the agent must close the connection without answering"
    conf = {**ssl_conf(certs), "socket.timeout.ms": 3000}
    outcomes = []
    p = Producer({"bootstrap.servers": ssl_bootstrap(a), "message.timeout.ms": 3000, "log_level": 0,
                  "error_cb": lambda e: None, **conf})
    p.produce(unique_topic("denied"), b"x", on_delivery=lambda e, m: outcomes.append(e))
    p.flush(10)
    assert len(outcomes) == 1 and outcomes[0] is not None, "nothing is delivered without a client certificate"
    assert "tls handshake failed" in a.log_text(), "failed handshakes are logged"


def served_certificate(port: int) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def test_a_certificate_replaced_on_disk_is_served_to_the_next_connection(tls_agent, certs, tmp_path):
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes((certs / "server.pem").read_bytes())
    live_key.write_bytes((certs / "server.key").read_bytes())
    a = tls_agent(keystore=live_cert, key=live_key)
    before = served_certificate(a.ssl_port)
    issue(certs, "ca", "renewed", "/O=renewed/CN=localhost", "subjectAltName=DNS:localhost")
    # Written aside and renamed into place, as certificate tooling does.
    (tmp_path / "new.key").write_bytes((certs / "renewed.key").read_bytes())
    (tmp_path / "new.pem").write_bytes((certs / "renewed.pem").read_bytes())
    (tmp_path / "new.key").rename(live_key)
    (tmp_path / "new.pem").rename(live_cert)
    after = served_certificate(a.ssl_port)
    assert after != before
    assert after == ssl.PEM_cert_to_DER_cert((certs / "renewed.pem").read_text())
    # Clients verifying against the CA keep working with the new certificate, without a restart.
    assert produce_consume_confluent(ssl_bootstrap(a), ssl_conf(certs), unique_topic("renewed"), 2) == ["v0", "v1"]


def test_weft_client_commands_speak_ssl_with_x_and_command_config(tls_agent, certs, weft_bin, tmp_path):
    a = tls_agent()
    x = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={certs / 'ca.pem'}"]
    topic = unique_topic("cli-tls")
    run(weft_bin, ssl_bootstrap(a), "topic", "create", topic, "--partitions", "2", *x)
    listed = run_json(weft_bin, ssl_bootstrap(a), "topic", "list", *x)
    assert topic in str(listed)
    run(weft_bin, ssl_bootstrap(a), "produce", topic, *x, input=b"a\nb\nc\n")
    props = tmp_path / "client.properties"
    props.write_text(f"# as Kafka's tools take it\nsecurity.protocol=SSL\nssl.ca.location={certs / 'ca.pem'}\n")
    out = run(weft_bin, ssl_bootstrap(a), "consume", topic, "--offset", "beginning", "--count", "3", "--exit",
              "--command-config", str(props))
    assert sorted(out.stdout.decode().split()) == ["a", "b", "c"]
    info = run(weft_bin, ssl_bootstrap(a), "cluster", "info", "--command-config", str(props))
    assert f"localhost:{a.ssl_port}" in info.stdout.decode() or str(a.ssl_port) in info.stdout.decode()
    # Plaintext to an SSL listener fails with one clear line; SASL_SSL without credentials names what is missing.
    failure(run(weft_bin, ssl_bootstrap(a), "topic", "list", "--timeout-secs", "3", ok=False))
    err = failure(run(weft_bin, ssl_bootstrap(a), "topic", "list", "-X", "security.protocol=SASL_SSL", ok=False))
    assert "sasl.username" in err
    # Without the right CA the broker's certificate is refused; by address, its IP name is checked.
    failure(run(weft_bin, ssl_bootstrap(a), "topic", "list", "-X", "security.protocol=SSL",
                "-X", f"ssl.ca.location={certs / 'rogue-ca.pem'}", "--timeout-secs", "5", ok=False))
    run(weft_bin, f"127.0.0.1:{a.ssl_port}", "topic", "list", *x)


def test_the_admin_listener_serves_https_with_admin_ssl(tls_agent, certs):
    a = tls_agent("--admin-ssl", "true")
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    wait_for(lambda: urllib.request.urlopen(f"https://localhost:{a.admin.rsplit(':', 1)[1]}/healthz",
                                            context=ctx, timeout=5).status == 200)
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://{a.admin}/healthz", timeout=5).read()
