"""The admin listener with `--admin-auth basic` on a real agent: users made with `weft user create`, an
ACL made with `weft acl add`, requests made with urllib. The probes stay open; /metrics answers 401 with a
Basic challenge without or with wrong credentials, 200 to a user with DESCRIBE on the cluster and 403 to an
authenticated user without it."""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request

import pytest

from cliutil import run

USERS = {"prometheus": "scrape-secret", "intruder": "intruder-secret"}


def _get(agent, path: str, user: str | None = None, password: str | None = None):
    """(status, headers (case-insensitive), body) of GET http://<admin><path>, with Basic credentials if given."""
    request = urllib.request.Request(f"http://{agent.admin}{path}")
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


@pytest.fixture
def secured(agent_factory, weft_bin):
    """An agent with Basic admin authentication and the ACL authorizer; Kafka clients on its PLAINTEXT
    listener are super users (to manage ACLs), `prometheus` may DESCRIBE the cluster, `intruder` not."""
    a = agent_factory("--admin-auth", "basic", "--authorizer", "acl", "--super-users", "User:ANONYMOUS",
                      "--connection-failed-authentication-delay-ms", "200", start=False)
    metastore = f"sqlite://{a.data_dir}/meta.db"
    for user, password in USERS.items():
        run(weft_bin, None, "user", "create", user, "--password", password, "--metastore", metastore)
    a.start()
    run(weft_bin, a.bootstrap, "acl", "add", "--allow-principal", "User:prometheus", "--operation", "describe",
        "--cluster")
    return a


def test_probes_stay_open(secured):
    assert _get(secured, "/healthz")[0] == 200
    assert _get(secured, "/readyz")[0] in (200, 503)


def test_metrics_need_credentials(secured):
    status, headers, _ = _get(secured, "/metrics")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Basic realm="weft"')


def test_wrong_passwords_and_unknown_users_look_the_same(secured):
    answers = []
    for user, password in [("prometheus", "wrong"), ("nobody", "scrape-secret")]:
        started = time.monotonic()
        status, headers, body = _get(secured, "/metrics", user, password)
        assert time.monotonic() - started >= 0.2, "answered after the failure delay"
        assert status == 401 and headers.get("WWW-Authenticate")
        answers.append(body)
    assert answers[0] == answers[1]


def test_a_user_with_describe_on_the_cluster_scrapes(secured):
    for _ in range(3):
        status, headers, body = _get(secured, "/metrics", "prometheus", USERS["prometheus"])
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/plain")
        assert "weft_http_authentications_total" in body


def test_an_authenticated_user_without_describe_is_forbidden(secured):
    status, _, body = _get(secured, "/metrics", "intruder", USERS["intruder"])
    assert status == 403, body
