//! Weft's bounded HTTP listeners (the admin listener, the peer listener, the schema registry): one accept
//! loop and one connection server, so every HTTP endpoint of an agent gets the same bounds.
//!
//! - [`serve`] accepts until shutdown: at most [`HttpLimits::max_connections`] open (the loop waits at the
//!   limit and further connections wait in the kernel backlog, so an HTTP listener can never starve the
//!   Kafka listeners of file descriptors), the TLS handshake when the listener has TLS (bounded by the
//!   acceptor's handshake timeout, failures counted per listener), and each connection's [`Connection`]
//!   (client address, TLS principal) put in every request's extensions for handlers and layers.
//! - [`serve_connection`] serves one HTTP/1 connection: a request head must arrive within the header
//!   timeout of connecting or of the previous response (also the keep-alive idle timeout), and the
//!   connection is closed after its current response once [`MAX_CONNECTION_AGE`] old (bounding a client
//!   that stalls inside a request) or at shutdown, with [`CLOSE_GRACE`] to finish.

mod connection;
mod listener;

pub use connection::{CLOSE_GRACE, Connection, MAX_CONNECTION_AGE, serve_connection};
pub use listener::{HttpLimits, serve};
