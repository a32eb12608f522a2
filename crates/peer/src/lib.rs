//! Agents of one zone sharing object reads, as WarpStream's agents do: each object has one owner per zone
//! (rendezvous hashing over the live agents of the zone that serve peers), which reads it from the bucket
//! once and serves it to the others from its cache, so a segment is read from the bucket about once per zone
//! however many agents fetch from it.
//!
//! - [`ZonePeers`] is the read cache's [`weft_storage::ObjectPeers`]: the owner of a key from this agent's
//!   membership view, and the read from that owner through [`PeerClient`].
//! - [`serve`] is the peer listener: `GET /v1/objects/<key>` (optionally with `Range: bytes=a-b`), answered
//!   from this agent's cache or the store, never from another peer.
//!
//! It is a cache and nothing more: a peer that fails, times out or answers wrongly costs a store read, never a
//! failed fetch, and nothing of record passes through it. Without `--peer-ssl` the endpoint carries data
//! unauthenticated over plain HTTP, so it belongs on the private network; with it, both sides present the
//! agent's certificate and check the other's against the trust store (mutual TLS), and the endpoint is
//! registered as `https://HOST:PORT`.

mod client;
mod owners;
mod range;
mod server;

pub use client::{HTTPS, PeerClient, PeerClientOptions};
pub use owners::ZonePeers;
pub use server::{PeerAccess, PeerSecurity, ServerLimits, serve};
/// The bounded HTTP connection server, moved to `weft-http`; re-exported for its earlier users.
pub use weft_http::{CLOSE_GRACE, MAX_CONNECTION_AGE, serve_connection};

/// Largest object (or range) served to or accepted from a peer. Weft's objects are bounded by the flush and
/// merge sizes (8 and 16 MiB by default) and one record batch (`--max-frame-bytes`, 100 MiB).
pub const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

/// The path objects are served under.
pub const OBJECTS_PATH: &str = "/v1/objects/";
