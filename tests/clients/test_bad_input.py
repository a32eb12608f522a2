"""Malformed and unexpected input on the Kafka port, sent over raw sockets.
The agent must drop the offending connection (or answer with a protocol
error where Kafka defines one) and keep serving everyone else."""

from __future__ import annotations

import socket
from pathlib import Path
import struct

import pytest

import rawkafka
from clientutil import kcat_metadata
from rawkafka import API_METADATA, API_VERSIONS, RawConn, frame, request_header

UNSUPPORTED_VERSION = 35
CLOSE_TIMEOUT = 10.0


def assert_still_serving(agent, healthy: RawConn = None):
    """Process alive; an existing connection and new clients still work."""
    assert agent.running(), f"agent process died:\n{agent.log_tail()}"
    if healthy is not None:
        res = rawkafka.api_versions(healthy, 0)
        assert res["error_code"] == 0 and res["correlation_id"] == healthy.corr
    md = kcat_metadata(agent.bootstrap)
    assert [b["id"] for b in md["brokers"]] == [0]
    with RawConn(agent.bootstrap) as c:
        assert rawkafka.api_versions(c, 0)["error_code"] == 0


def test_api_versions_v0_and_v3_sanity(agent_module):
    """The raw client itself works: ApiVersions v0 and flexible v3 both succeed."""
    with RawConn(agent_module.bootstrap) as c:
        v0 = rawkafka.api_versions(c, 0)
        assert v0["error_code"] == 0
        assert v0["correlation_id"] == c.corr
        lo, hi = v0["apis"][API_VERSIONS]
        assert lo == 0 and hi >= 3
        for key in (0, 1, 2, 3):  # Produce, Fetch, ListOffsets, Metadata
            assert key in v0["apis"], f"api {key} not advertised"
        v3 = rawkafka.api_versions(c, 3)
        assert v3["error_code"] == 0
        assert v3["correlation_id"] == c.corr
        assert v3["apis"] == v0["apis"]


def test_api_versions_unsupported_version(agent_module):
    with RawConn(agent_module.bootstrap) as c:
        body = rawkafka.compact_string("weft-raw-test") + rawkafka.compact_string("0") + b"\x00"
        c.send(frame(request_header(API_VERSIONS, 99, 4242, flexible=True) + body))
        r = rawkafka.Reader(c.recv_frame())
        # ApiVersions v0 response: header v0 (correlation id) + error_code + api array
        assert r.i32() == 4242
        assert r.i16() == UNSUPPORTED_VERSION
        # Whatever follows must be a well-formed v0 body: int32 count of
        # (api_key, min, max) int16 triples -- clients (e.g. kafka-python,
        # which opens with ApiVersions v4) parse it to pick a version they share.
        if r.remaining():
            n = r.i32()
            assert n >= 0 and r.remaining() == 6 * n, (
                f"body after error_code is not a v0 api_keys array: count={n}, "
                f"{r.remaining()} bytes left")
            apis = {}
            for _ in range(n):
                k, lo, hi = r.i16(), r.i16(), r.i16()
                apis[k] = (lo, hi)
            if apis:
                assert API_VERSIONS in apis, apis
        # the connection stays usable for a supported version
        assert rawkafka.api_versions(c, 0)["error_code"] == 0
    assert_still_serving(agent_module)


GARBAGE_FRAMES = {
    # header claims api key -1, everything else junk
    "all-ff": frame(b"\xff" * 32),
    # ApiVersions v0 header with a client_id length that runs past the frame
    "bad-client-id-len": frame(struct.pack(">hhih", API_VERSIONS, 0, 1, 3000) + b"abc"),
    # Metadata v4: topics array claims a million entries, frame ends right away
    "metadata-truncated-body": frame(request_header(API_METADATA, 4, 7)
                                     + struct.pack(">i", 1_000_000)),
    # a frame too short to even hold a request header
    "tiny": frame(b"\x00\x03"),
    # zero-length frame
    "empty": struct.pack(">i", 0),
    # negative length
    "negative-length": struct.pack(">i", -5) + b"junk",
}


@pytest.mark.parametrize("name", sorted(GARBAGE_FRAMES))
def test_garbage_frame_closes_connection(agent_module, name):
    healthy = RawConn(agent_module.bootstrap)
    try:
        assert rawkafka.api_versions(healthy, 0)["error_code"] == 0
        with RawConn(agent_module.bootstrap) as bad:
            bad.send(GARBAGE_FRAMES[name])
            assert bad.wait_closed(CLOSE_TIMEOUT), f"connection not closed after {name!r}"
        assert_still_serving(agent_module, healthy)
    finally:
        healthy.close()


def test_truncated_frame_then_eof_closes_connection(agent_module):
    healthy = RawConn(agent_module.bootstrap)
    try:
        with RawConn(agent_module.bootstrap) as bad:
            # announce 100 bytes, send 10, then half-close our side
            bad.send(struct.pack(">i", 100) + request_header(API_VERSIONS, 0, 1, client_id=None))
            bad.sock.shutdown(socket.SHUT_WR)
            assert bad.wait_closed(CLOSE_TIMEOUT), "connection not closed after truncated frame"
        assert_still_serving(agent_module, healthy)
    finally:
        healthy.close()


def test_unknown_api_key_closes_connection(agent_module):
    healthy = RawConn(agent_module.bootstrap)
    try:
        with RawConn(agent_module.bootstrap) as bad:
            bad.send(frame(request_header(9999, 0, 5) + b"\x00" * 16))
            assert bad.wait_closed(CLOSE_TIMEOUT), "connection not closed after api key 9999"
        assert_still_serving(agent_module, healthy)
    finally:
        healthy.close()


def test_unsupported_version_of_other_api_closes_connection(agent_module):
    """Only ApiVersions has a defined error reply for an unknown version."""
    with RawConn(agent_module.bootstrap) as bad:
        bad.send(frame(request_header(API_METADATA, 999, 6) + b"\x00" * 8))
        assert bad.wait_closed(CLOSE_TIMEOUT), "connection not closed after Metadata v999"
    assert_still_serving(agent_module)


def test_frame_over_max_frame_bytes_closes_connection(agent_factory):
    limit = 65536
    a = agent_factory("--max-frame-bytes", str(limit))
    healthy = RawConn(a.bootstrap)
    try:
        with RawConn(a.bootstrap) as bad:
            # Only the length prefix and a little data: the agent must not wait
            # for (or allocate) the announced body.
            bad.send(struct.pack(">i", limit * 4) + request_header(API_VERSIONS, 0, 1))
            assert bad.wait_closed(CLOSE_TIMEOUT), "connection not closed for oversized frame"
        with RawConn(a.bootstrap) as bad:
            bad.send(struct.pack(">i", 0x7FFFFFFF))
            assert bad.wait_closed(CLOSE_TIMEOUT), "connection not closed for 2 GiB frame"
        # a frame under the limit is fine
        with RawConn(a.bootstrap) as ok:
            assert rawkafka.api_versions(ok, 0)["error_code"] == 0
        assert_still_serving(a, healthy)
    finally:
        healthy.close()


def test_many_bad_connections_in_a_row(agent_module):
    for i in range(50):
        with RawConn(agent_module.bootstrap) as bad:
            bad.send(GARBAGE_FRAMES["all-ff"] if i % 2 else frame(request_header(9999, 0, i)))
            assert bad.wait_closed(CLOSE_TIMEOUT)
    assert_still_serving(agent_module)


REGRESSIONS = sorted((Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / "request_decode").glob("*.bin"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_fuzz_crashers_close_the_connection_and_the_agent_lives(agent_module, path):
    """Frames found by fuzz/request_decode: tiny requests whose array counts ask the codec for hundreds of
    GB. They once aborted the process; now the connection is closed and the agent keeps serving."""
    body = path.read_bytes()
    host, port = agent_module.bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        assert s.recv(64) == b"", "the connection is closed without a response"
    assert_still_serving(agent_module)


def test_fuzz_regressions_exist():
    assert len(REGRESSIONS) >= 6
