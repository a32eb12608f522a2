"""A tiny hand-rolled Kafka wire-protocol client over a raw socket.

Used where the real clients would hide what the broker actually does:
malformed frames, unknown API keys, unsupported versions, and exact error
codes of Metadata/Produce. Only the handful of request versions needed by the
tests are implemented (all non-flexible except ApiVersions v3).
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Optional

API_PRODUCE = 0
API_METADATA = 3
API_VERSIONS = 18
API_JOIN_GROUP = 11
API_INIT_PRODUCER_ID = 22

# --------------------------------------------------------------------------
# primitive encoders
# --------------------------------------------------------------------------


def _crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n: int) -> bytes:
    return uvarint((n << 1) ^ (n >> 63))


def kstring(s: Optional[str]) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def compact_string(s: str) -> bytes:
    b = s.encode()
    return uvarint(len(b) + 1) + b


def request_header(api_key: int, version: int, correlation_id: int,
                   client_id: Optional[str] = "weft-raw-test", flexible: bool = False) -> bytes:
    """Request header v1 (v2 when ``flexible``: adds empty tagged fields)."""
    h = struct.pack(">hhi", api_key, version, correlation_id) + kstring(client_id)
    if flexible:
        h += b"\x00"
    return h


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def record_batch(key: Optional[bytes], value: Optional[bytes], timestamp_ms: int) -> bytes:
    """A magic-v2 RecordBatch holding one uncompressed record."""
    body = b"\x00" + varint(0) + varint(0)  # attributes, timestampDelta, offsetDelta
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(0)  # headers count
    record = varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, timestamp_ms, timestamp_ms, -1, -1, -1, 1) + record
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", -1, 2, crc) + after_crc  # leaderEpoch, magic, crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def idempotent_batch(values: list, producer_id: int, producer_epoch: int, base_sequence: int,
                     timestamp_ms: int) -> bytes:
    """A magic-v2 RecordBatch of an idempotent producer: one keyless uncompressed record per value, sequences
    ``base_sequence ..``, and a correct CRC-32C."""
    records = b""
    for i, value in enumerate(values):
        body = b"\x00" + varint(0) + varint(i)  # attributes, timestampDelta, offsetDelta
        body += varint(-1) + varint(len(value)) + value + varint(0)  # no key, value, no headers
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp_ms, timestamp_ms, producer_id,
                            producer_epoch, base_sequence, len(values)) + records
    after_len = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


# --------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------


class Reader:
    def __init__(self, data: bytes):
        self.d = data
        self.i = 0

    def remaining(self) -> int:
        return len(self.d) - self.i

    def _unpack(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.i)
        self.i += struct.calcsize(fmt)
        return v[0]

    def i8(self):
        return self._unpack(">b")

    def i16(self):
        return self._unpack(">h")

    def i32(self):
        return self._unpack(">i")

    def i64(self):
        return self._unpack(">q")

    def uvarint(self):
        shift = 0
        n = 0
        while True:
            b = self.d[self.i]
            self.i += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s

    def compact_string(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s

    def compact_array(self, fn):
        n = self.uvarint() - 1
        return [] if n < 0 else [fn() for _ in range(n)]

    def array(self, fn):
        n = self.i32()
        return [] if n < 0 else [fn() for _ in range(n)]

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.i += self.uvarint()


# --------------------------------------------------------------------------
# connection
# --------------------------------------------------------------------------


class RawConn:
    def __init__(self, bootstrap: str, timeout: float = 10.0):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.settimeout(timeout)
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def recv_frame(self) -> bytes:
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def request(self, api_key: int, version: int, body: bytes, flexible_header: bool = False):
        """Send one request; return (correlation_id_in_response, Reader over the
        rest of the response). Response header v0 is assumed (true for every
        API used here, including ApiVersions at any version)."""
        self.corr += 1
        corr = self.corr
        self.send(frame(request_header(api_key, version, corr, flexible=flexible_header) + body))
        resp = self.recv_frame()
        r = Reader(resp)
        return r.i32(), r

    def wait_closed(self, timeout: float = 10.0) -> bool:
        """Read (and discard) until the peer closes. True if it closed within
        ``timeout``; False if the connection was still open then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
        return False


# --------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------


def api_versions(conn: RawConn, version: int = 0) -> dict:
    """ApiVersions v0..v3. Returns {'correlation_id', 'error_code', 'apis': {key: (min, max)}}."""
    if version >= 3:
        body = compact_string("weft-raw-test") + compact_string("0.0.0") + b"\x00"
        corr, r = conn.request(API_VERSIONS, version, body, flexible_header=True)
        err = r.i16()
        apis = {}
        for _ in range(r.uvarint() - 1):
            k, lo, hi = r.i16(), r.i16(), r.i16()
            r.skip_tags()
            apis[k] = (lo, hi)
    else:
        corr, r = conn.request(API_VERSIONS, version, b"")
        err = r.i16()
        apis = {}
        for _ in range(max(r.i32(), 0)):
            k, lo, hi = r.i16(), r.i16(), r.i16()
            apis[k] = (lo, hi)
    return {"correlation_id": corr, "error_code": err, "apis": apis}


def pick_version(apis: dict, api_key: int, lo: int, hi: int) -> int:
    """Highest version in [lo, hi] that the broker also supports."""
    assert api_key in apis, f"broker does not advertise api key {api_key}: {sorted(apis)}"
    blo, bhi = apis[api_key]
    v = min(hi, bhi)
    assert v >= max(lo, blo), (
        f"no common version for api {api_key}: broker {blo}..{bhi}, test client {lo}..{hi}")
    return v


def metadata(conn: RawConn, topics: Optional[list], allow_auto_create: bool,
             version: int = 4) -> dict:
    """Metadata v4..v8. Returns {'brokers': [...], 'cluster_id', 'controller_id',
    'topics': {name: {'error_code', 'partitions': {index: {...}}}}}."""
    assert 4 <= version <= 8
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(kstring(t) for t in topics)
    body += struct.pack(">?", allow_auto_create)
    if version >= 8:
        body += struct.pack(">??", False, False)
    corr, r = conn.request(API_METADATA, version, body)
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    r.i32()  # throttle_time_ms

    def broker():
        return {"node_id": r.i32(), "host": r.string(), "port": r.i32(), "rack": r.string()}

    brokers = r.array(broker)
    cluster_id = r.string()
    controller_id = r.i32()

    def partition():
        p = {"error_code": r.i16(), "index": r.i32(), "leader": r.i32()}
        if version >= 7:
            p["leader_epoch"] = r.i32()
        p["replicas"] = r.array(r.i32)
        p["isr"] = r.array(r.i32)
        if version >= 5:
            p["offline"] = r.array(r.i32)
        return p

    out_topics = {}
    for _ in range(max(r.i32(), 0)):
        err = r.i16()
        name = r.string()
        r.i8()  # is_internal
        parts = {p["index"]: p for p in r.array(partition)}
        if version >= 8:
            r.i32()  # topic_authorized_operations
        out_topics[name] = {"error_code": err, "partitions": parts}
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id,
            "topics": out_topics}


def produce(conn: RawConn, topic: str, partition: int, key: Optional[bytes],
            value: Optional[bytes], version: int = 3, acks: int = 1,
            timeout_ms: int = 15000, timestamp_ms: Optional[int] = None) -> dict:
    """Produce v3..v8 of a single record. Returns {'error_code', 'base_offset'}."""
    assert 3 <= version <= 8
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    batch = record_batch(key, value, ts)
    body = kstring(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(batch)) + batch
    corr, r = conn.request(API_PRODUCE, version, body)
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    n_topics = r.i32()
    assert n_topics == 1, f"expected 1 topic in produce response, got {n_topics}"
    name = r.string()
    assert name == topic, f"produce response topic {name!r} != {topic!r}"
    n_parts = r.i32()
    assert n_parts == 1, f"expected 1 partition in produce response, got {n_parts}"
    idx = r.i32()
    assert idx == partition
    return {"error_code": r.i16(), "base_offset": r.i64()}


def init_producer_id(conn: RawConn, transactional_id: Optional[str] = None,
                     transaction_timeout_ms: int = 60000) -> dict:
    """InitProducerId v1. Returns {'error_code', 'producer_id', 'producer_epoch'}."""
    body = kstring(transactional_id) + struct.pack(">i", transaction_timeout_ms)
    corr, r = conn.request(API_INIT_PRODUCER_ID, 1, body)
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    r.i32()  # throttle_time_ms
    return {"error_code": r.i16(), "producer_id": r.i64(), "producer_epoch": r.i16()}


def find_coordinator(conn: RawConn, key: str, key_type: int = 0) -> dict:
    """FindCoordinator v1 (key_type 0 = group, 1 = transaction). Returns {'error_code', 'node_id', 'host', 'port'}."""
    corr, r = conn.request(10, 1, kstring(key) + struct.pack(">b", key_type))
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    r.i32()  # throttle_time_ms
    error_code = r.i16()
    r.string()  # error_message
    return {"error_code": error_code, "node_id": r.i32(), "host": r.string(), "port": r.i32()}


def produce_record_set(conn: RawConn, topic: str, partition: int, records: bytes, acks: int = -1,
                       timeout_ms: int = 15000) -> dict:
    """Produce v9 (flexible) of one partition's record set, given as raw bytes (any number of batches).
    Returns the partition's {'error_code', 'base_offset', 'log_start_offset', 'record_errors', 'error_message'}."""
    body = uvarint(0)  # transactional_id: null
    body += struct.pack(">hi", acks, timeout_ms)
    body += uvarint(2) + compact_string(topic)
    body += uvarint(2) + struct.pack(">i", partition) + uvarint(len(records) + 1) + records + b"\x00"
    body += b"\x00"  # topic tags
    body += b"\x00"  # request tags
    corr, r = conn.request(API_PRODUCE, 9, body, flexible_header=True)
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    r.skip_tags()  # response header v1

    def record_error():
        e = (r.i32(), r.compact_string())
        r.skip_tags()
        return e

    def part():
        p = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(), "log_append_time_ms": r.i64(),
             "log_start_offset": r.i64(), "record_errors": r.compact_array(record_error),
             "error_message": r.compact_string()}
        r.skip_tags()
        return p

    def topic_response():
        t = (r.compact_string(), r.compact_array(part))
        r.skip_tags()
        return t

    topics = r.compact_array(topic_response)
    assert [(name, [p["index"] for p in parts]) for name, parts in topics] == [(topic, [partition])], topics
    return topics[0][1][0]


def join_group(conn: RawConn, group: str, member_id: str = "", session_timeout_ms: int = 30000) -> dict:
    """JoinGroup v4 of a consumer-protocol member with one "range" protocol and empty metadata.
    Returns {'error_code', 'member_id'} (a first join without member id gets MEMBER_ID_REQUIRED, KIP-394)."""
    body = kstring(group) + struct.pack(">ii", session_timeout_ms, session_timeout_ms) + kstring(member_id)
    body += kstring("consumer") + struct.pack(">i", 1) + kstring("range") + struct.pack(">i", 0)
    corr, r = conn.request(API_JOIN_GROUP, 4, body)
    assert corr == conn.corr, f"correlation id {corr} != {conn.corr}"
    r.i32()  # throttle_time_ms
    err, _generation, _protocol, _leader = r.i16(), r.i32(), r.string(), r.string()
    return {"error_code": err, "member_id": r.string()}


# --------------------------------------------------------------------------
# record batches from raw record bytes (for malformed records)
# --------------------------------------------------------------------------

CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2, 3, 4


def nullable_bytes(b: Optional[bytes]) -> bytes:
    return varint(-1) if b is None else varint(len(b)) + b


def record_body(offset_delta: int, key: Optional[bytes], value: Optional[bytes],
                headers=(), timestamp_delta: int = 0) -> bytes:
    """A v2 record's fields after its length: attributes, deltas, key, value, headers."""
    body = b"\x00" + varint(timestamp_delta) + varint(offset_delta)
    body += nullable_bytes(key) + nullable_bytes(value) + varint(len(headers))
    for hk, hv in headers:
        body += nullable_bytes(hk) + nullable_bytes(hv)
    return body


def framed_record(body: bytes) -> bytes:
    """A record: its length varint, then ``body`` (which may be malformed)."""
    return varint(len(body)) + body


def compress(codec: int, data: bytes) -> bytes:
    """Compress as the real clients do: gzip, snappy as one raw block (librdkafka), lz4 frame, zstd."""
    if codec == CODEC_NONE:
        return data
    if codec == CODEC_GZIP:
        import gzip
        return gzip.compress(data)
    if codec == CODEC_SNAPPY:
        import snappy
        return snappy.compress(data)
    if codec == CODEC_LZ4:
        import lz4.frame
        return lz4.frame.compress(data)
    if codec == CODEC_ZSTD:
        import zstandard
        return zstandard.ZstdCompressor().compress(data)
    return data


def raw_batch(records: bytes, count: int, last_offset_delta: Optional[int] = None,
              codec: int = CODEC_NONE, base_ts: Optional[int] = None,
              max_ts: Optional[int] = None, compressed: bool = False, attributes: Optional[int] = None) -> bytes:
    """A v2 batch around ``records`` (raw record bytes, compressed with ``codec``
    unless ``compressed``), with a correct CRC-32C whatever the records hold."""
    ts = int(time.time() * 1000) if base_ts is None else base_ts
    payload = records if compressed else compress(codec, records)
    lod = count - 1 if last_offset_delta is None else last_offset_delta
    attrs = codec if attributes is None else attributes
    after_crc = struct.pack(">hiqqqhii", attrs, lod, ts, ts if max_ts is None else max_ts,
                            -1, -1, -1, count) + payload
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def produce_batch(conn: RawConn, topic: str, partition: int, batch: bytes,
                  version: int = 8, acks: int = -1, timeout_ms: int = 15000) -> dict:
    """Produce v3..v8 of one raw record set. Returns error_code, base_offset,
    and (v8) record_errors [(batch_index, message)] and error_message."""
    assert 3 <= version <= 8
    body = kstring(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(batch)) + batch
    corr, r = conn.request(API_PRODUCE, version, body)
    assert corr == conn.corr
    assert r.i32() == 1 and r.string() == topic
    assert r.i32() == 1 and r.i32() == partition
    out = {"error_code": r.i16(), "base_offset": r.i64(), "record_errors": [], "error_message": None}
    if version >= 2:
        r.i64()  # log_append_time_ms
    if version >= 5:
        out["log_start_offset"] = r.i64()
    if version >= 8:
        out["record_errors"] = r.array(lambda: (r.i32(), r.string()))
        out["error_message"] = r.string()
    return out
