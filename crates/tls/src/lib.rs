//! TLS for the Kafka and admin listeners: a reloading acceptor over PEM files with optional client
//! certificates ([`Tls`]), the subject of a client certificate as Kafka prints it ([`dn`]), and Kafka's
//! `ssl.principal.mapping.rules` turning that subject into a user name ([`PrincipalMapper`]).

mod acceptor;
pub mod dn;
mod mapping;

pub use acceptor::{HandshakeError, Tls, TlsError, TlsSettings};
pub use mapping::{PrincipalMapper, RulesError};
