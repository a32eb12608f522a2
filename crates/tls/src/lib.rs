//! TLS for the Kafka, admin and peer listeners: a reloading acceptor over PEM files with optional client
//! certificates ([`Tls`]), the client configuration agents present to each other's peer listeners
//! ([`client_config`]), the subject of a client certificate as Kafka prints it ([`dn`]), and Kafka's
//! `ssl.principal.mapping.rules` turning that subject into a user name ([`PrincipalMapper`]).

mod acceptor;
mod client;
pub mod dn;
mod mapping;
mod pem;

pub use acceptor::{HandshakeError, Tls, TlsError, TlsSettings};
pub use client::{ClientFiles, client_config};
pub use mapping::{PrincipalMapper, RulesError};
