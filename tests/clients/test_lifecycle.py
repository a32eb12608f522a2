"""Agent process lifecycle: ready line, admin health endpoint, SIGTERM."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from clientutil import Rec, create_topic, produce_confluent, unique_topic


def test_ready_line_reports_addresses(agent):
    host, port = agent.bootstrap.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    ahost, aport = agent.admin.rsplit(":", 1)
    assert ahost == "127.0.0.1" and int(aport) > 0 and aport != port
    assert agent.reported_data_dir is not None
    assert os.path.realpath(agent.reported_data_dir) == os.path.realpath(agent.data_dir)


def test_healthz_returns_200(agent_module):
    assert agent_module.healthz() == 200


def test_unknown_admin_path_is_404(agent_module):
    try:
        with urllib.request.urlopen(f"http://{agent_module.admin}/no-such-path", timeout=5) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    assert status == 404


def test_sigterm_exits_zero_and_restart_serves(agent):
    topic = unique_topic("life")
    create_topic(agent.bootstrap, topic, partitions=1)
    assert produce_confluent(agent.bootstrap, topic, [Rec(0, b"k", b"v")], acks="all") \
        == [(None, 0, 0)]
    rc = agent.stop()
    assert rc == 0, f"exit code after SIGTERM: {rc}"
    agent.start()
    assert agent.healthz() == 200
    assert produce_confluent(agent.bootstrap, topic, [Rec(0, b"k", b"v")], acks="all") \
        == [(None, 0, 1)]
    assert agent.stop() == 0
