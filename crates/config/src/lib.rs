//! The agent's configuration, each option declared once (`options.rs`): the [`AgentConfig`] struct and
//! its defaults, the checks ([`AgentConfig::validate`]), and how users write options — a `--flag`, a
//! `WEFT_*` variable or a key of a TOML file — are all generated from that one table, so a new option
//! cannot be half-wired and `--help`, the docs and the tests cannot drift from the code.

#[macro_use]
mod declare;
mod admin;
mod authorizer;
mod cli;
pub mod codec;
mod listeners;
pub mod memory;
mod model;
mod options;
mod peer;
mod roles;
mod security;
mod validate;

pub use admin::AdminAuth;
pub use authorizer::Authorizer;
pub use cli::{AgentArgs, LoadError, read_layer};
pub use codec::Kind;
pub use listeners::{ListenerSpec, SecurityProtocol};
pub use model::{LOCAL_FLUSH_INTERVAL, ObjectStoreModel, S3_FLUSH_INTERVAL, SslClientAuth};
pub use options::{AgentConfig, Layer, key, options};
pub use peer::PeerListen;
pub use roles::{Roles, RolesError};
pub use security::{KNOWN_MECHANISMS, MechanismsError, SaslMechanisms};
pub use validate::{ConfigError, flag};

use std::path::PathBuf;

/// The declaration of one option, as the table gives it.
#[derive(Debug, Clone)]
pub struct OptionInfo {
    /// TOML key; the flag and the variable are spelled from it.
    pub key: &'static str,
    /// The [`AgentConfig`] field it sets.
    pub field: &'static str,
    /// The doc comment: its first paragraph is the help line.
    pub doc: &'static str,
    /// The default as written in `--help`.
    pub default: String,
    /// What the option takes (a number, an address, ...).
    pub kind: Kind,
    /// Names of the per-option rules (`positive`).
    pub checks: &'static [&'static str],
    parser: clap::builder::ValueParser,
}

impl OptionInfo {
    /// `flush-bytes` for key `flush_bytes` (used as `--flush-bytes`).
    pub fn flag(&self) -> String {
        flag(self.key)
    }

    /// `WEFT_FLUSH_BYTES` for key `flush_bytes`.
    pub fn env(&self) -> String {
        format!("WEFT_{}", self.key.to_uppercase())
    }

    /// The first paragraph of the doc, on one line.
    pub fn help(&self) -> String {
        let lines = self.doc.lines().map(str::trim).take_while(|l| !l.is_empty());
        lines.collect::<Vec<_>>().join(" ")
    }
}

impl AgentConfig {
    /// The embedded default rooted at `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        AgentConfig { data_dir: data_dir.into(), ..options::declared_defaults() }
    }

    pub fn object_store_url(&self) -> String {
        self.object_store.clone().unwrap_or_else(|| format!("file://{}", abs(&self.data_dir.join("objects")).display()))
    }

    pub fn metastore_url(&self) -> String {
        self.metastore.clone().unwrap_or_else(|| format!("sqlite://{}", abs(&self.data_dir.join("meta.db")).display()))
    }
}

fn abs(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        options::declared_defaults()
    }
}
