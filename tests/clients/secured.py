"""A secured agent shared by the security tests (test_security_matrix, test_audit): a SASL_PLAINTEXT and a
SASL_SSL listener, PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER (JWTs checked against a JWKS file), the ACL
authorizer with ``User:admin`` and ``User:service-a`` (the JWT subject) as super users, and an audit file.
Certificates and signing keys are generated per module by the tests (openssl), never committed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cliutil import run
from conftest import Agent
from servers import free_ports
from test_sasl import _jwt, _rsa_key
from test_tls import issue, openssl

ADMIN, ADMIN_PASSWORD = "admin", "admin-secret-7f3a"
ISSUER, AUDIENCE, SUBJECT = "https://issuer.test", "weft", "service-a"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class SecuredAgent(Agent):
    """The agent, its listeners' ports and the files the tests need (CA, keys, audit log)."""

    def __init__(self, *args, plain_port: int, ssl_port: int, files: Path, **kw):
        super().__init__(*args, **kw)
        self.plain_port, self.ssl_port, self.files = plain_port, ssl_port, files
        self.audit_path = files / "audit.log"

    def _argv(self, kafka_port: int, admin_port: int) -> list:
        return [self.binary, "agent",
                "--listeners",
                f"SASL_PLAINTEXT://127.0.0.1:{self.plain_port},SASL_SSL://127.0.0.1:{self.ssl_port}",
                "--advertised-listeners",
                f"SASL_PLAINTEXT://127.0.0.1:{self.plain_port},SASL_SSL://localhost:{self.ssl_port}",
                "--admin-listen", f"127.0.0.1:{admin_port}", "--schema-registry-listen", "off",
                "--data-dir", self.data_dir, *self.extra_args]

    def bootstrap_of(self, protocol: str) -> str:
        return f"localhost:{self.ssl_port}" if protocol == "SASL_SSL" else f"127.0.0.1:{self.plain_port}"

    def token(self, **over) -> str:
        """A JWT signed by the trusted key (``key="other"`` for a key the agent does not trust)."""
        key = self.files / ("other.pem" if over.pop("key", None) == "other" else "good.pem")
        now = int(time.time())
        claims = {"sub": SUBJECT, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
        claims.update(over)
        return _jwt(key, claims)

    def confluent(self, protocol: str, mechanism: str, user: str = ADMIN, password: str = ADMIN_PASSWORD,
                  token: str = None, ca: str = "ca") -> dict:
        """confluent-kafka settings to log in over `protocol` with `mechanism`."""
        conf = {"security.protocol": protocol, "sasl.mechanisms": mechanism}
        if protocol == "SASL_SSL":
            conf["ssl.ca.location"] = str(self.files / f"{ca}.pem")
        if mechanism == "OAUTHBEARER":
            jwt = token or self.token()
            conf["oauth_cb"] = lambda _config: (jwt, time.time() + 300)
        else:
            conf.update({"sasl.username": user, "sasl.password": password})
        return conf

    def audit_lines(self) -> list:
        try:
            text = self.audit_path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def start_secured_agent(weft_bin: str, tmp_path_factory) -> SecuredAgent:
    files = tmp_path_factory.mktemp("secured")
    for ca in ("ca", "rogue-ca"):
        openssl(files, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                "2", "-subj", f"/CN=weft test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    issue(files, "ca", "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    jwk = _rsa_key(files / "good.pem")
    _rsa_key(files / "other.pem")
    (files / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    data = tmp_path_factory.mktemp("weft-secured")
    run(weft_bin, None, "user", "create", ADMIN, "--password", ADMIN_PASSWORD,
        "--metastore", f"sqlite://{data}/meta.db")
    plain_port, ssl_port = free_ports(2)
    a = SecuredAgent(weft_bin, data, [
        "--ssl-keystore-location", str(files / "server.pem"),
        "--ssl-key-location", str(files / "server.key"),
        "--sasl-enabled-mechanisms", ",".join(MECHANISMS),
        "--sasl-oauthbearer-jwks-endpoint-url", f"file://{files}/jwks.json",
        "--sasl-oauthbearer-expected-issuer", ISSUER,
        "--sasl-oauthbearer-expected-audience", AUDIENCE,
        "--authorizer", "acl", "--super-users", f"User:{ADMIN};User:{SUBJECT}",
        "--audit-log", str(files / "audit.log"),
        "--connection-failed-authentication-delay-ms", "20",
    ], plain_port=plain_port, ssl_port=ssl_port, files=files)
    a.start()
    return a
