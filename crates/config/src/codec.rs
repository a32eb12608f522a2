//! How an option is written by a user (flag, `WEFT_*` variable, TOML value) and turned into its
//! [`crate::AgentConfig`] field: milliseconds become a `Duration`, `off` disables a listener, and so on.
//! Each option of the table names one codec, so a unit is decided once per option.

use std::error::Error;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What kind of value an option takes, for documentation and for tests that set every option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (sizes, counts, ids, times in the unit the option's name says).
    Number,
    /// `true` or `false`.
    Bool,
    /// `HOST:PORT` with a numeric host.
    Address,
    /// Free text (URLs, host names).
    Text,
    /// A file system path.
    Path,
    /// A decimal number (prices).
    Decimal,
    /// One of a few names.
    Choice(&'static [&'static str]),
    /// A comma-separated list of agent roles (`kafka`, `jobs`).
    Roles,
    /// A comma-separated list of SASL mechanism names (`PLAIN`, `SCRAM-SHA-256`, ...).
    Mechanisms,
}

/// A written value the codec refused.
#[derive(Debug)]
pub struct Rejected {
    /// The value as written.
    pub value: String,
    /// What the option accepts, e.g. `HOST:PORT or off`.
    pub expected: &'static str,
    pub source: Box<dyn Error + Send + Sync>,
}

/// Converts between an option's written form (`Raw`, parsed by clap and serde) and its field.
pub trait Codec {
    type Field;
    type Raw;
    const KIND: Kind;
    fn decode(raw: Self::Raw) -> Result<Self::Field, Rejected>;
    /// The field as a user would write it (used for defaults in `--help` and in error messages).
    fn show(field: &Self::Field) -> String;
}

/// Written as the field itself.
pub struct Same<T>(PhantomData<T>);

macro_rules! same {
    ($kind:ident: $($t:ty),*) => {$(
        impl Codec for Same<$t> {
            type Field = $t;
            type Raw = $t;
            const KIND: Kind = Kind::$kind;
            fn decode(raw: $t) -> Result<$t, Rejected> {
                Ok(raw)
            }
            fn show(field: &$t) -> String {
                field.to_string()
            }
        }
    )*};
}
same!(Number: i32, u64, usize);
same!(Text: String);
same!(Bool: bool);
same!(Address: SocketAddr);
same!(Decimal: f64);

/// A path, written as itself.
pub struct Path;

impl Codec for Path {
    type Field = PathBuf;
    type Raw = PathBuf;
    const KIND: Kind = Kind::Path;
    fn decode(raw: PathBuf) -> Result<PathBuf, Rejected> {
        Ok(raw)
    }
    fn show(field: &PathBuf) -> String {
        field.display().to_string()
    }
}

/// An optional path: unset means none (see the option's default).
pub struct OptionalPath;

impl Codec for OptionalPath {
    type Field = Option<PathBuf>;
    type Raw = PathBuf;
    const KIND: Kind = Kind::Path;
    fn decode(raw: PathBuf) -> Result<Option<PathBuf>, Rejected> {
        Ok(Some(raw))
    }
    fn show(field: &Option<PathBuf>) -> String {
        field.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
    }
}

/// Optional text: unset means "derive it" (see the option's default).
pub struct OptionalText;

impl Codec for OptionalText {
    type Field = Option<String>;
    type Raw = String;
    const KIND: Kind = Kind::Text;
    fn decode(raw: String) -> Result<Option<String>, Rejected> {
        Ok(Some(raw))
    }
    fn show(field: &Option<String>) -> String {
        field.clone().unwrap_or_default()
    }
}

/// A duration written in whole milliseconds (options named `*_ms`).
pub struct Millis;

impl Codec for Millis {
    type Field = Duration;
    type Raw = u64;
    const KIND: Kind = Kind::Number;
    fn decode(raw: u64) -> Result<Duration, Rejected> {
        Ok(Duration::from_millis(raw))
    }
    fn show(field: &Duration) -> String {
        field.as_millis().to_string()
    }
}

/// An optional duration written in whole milliseconds: unset means "derive it" (see the option's default).
pub struct OptionalMillis;

impl Codec for OptionalMillis {
    type Field = Option<Duration>;
    type Raw = u64;
    const KIND: Kind = Kind::Number;
    fn decode(raw: u64) -> Result<Option<Duration>, Rejected> {
        Ok(Some(Duration::from_millis(raw)))
    }
    fn show(field: &Option<Duration>) -> String {
        field.map(|d| d.as_millis().to_string()).unwrap_or_default()
    }
}

/// An optional count of bytes or items: unset means "derive it" (see the option's default).
pub struct OptionalCount;

impl Codec for OptionalCount {
    type Field = Option<usize>;
    type Raw = usize;
    const KIND: Kind = Kind::Number;
    fn decode(raw: usize) -> Result<Option<usize>, Rejected> {
        Ok(Some(raw))
    }
    fn show(field: &Option<usize>) -> String {
        field.map(|n| n.to_string()).unwrap_or_default()
    }
}

/// A field that is one of a few values, each written as a name.
pub trait Named: Sized + Copy + PartialEq + 'static {
    /// Every value with its name.
    const NAMES: &'static [(Self, &'static str)];
    /// The names alone, in the same order.
    const NAME_LIST: &'static [&'static str];
    /// The names as a list for messages, e.g. `off, s3-standard or s3-express`.
    const EXPECTED: &'static str;
}

/// Written as one of the names of a [`Named`] field.
pub struct Choice<T>(PhantomData<T>);

impl<T: Named> Codec for Choice<T> {
    type Field = T;
    type Raw = String;
    const KIND: Kind = Kind::Choice(T::NAME_LIST);
    fn decode(raw: String) -> Result<T, Rejected> {
        match T::NAMES.iter().find(|(_, name)| *name == raw) {
            Some((value, _)) => Ok(*value),
            None => {
                let source = format!("unknown name {raw:?}").into();
                Err(Rejected { value: raw, expected: T::EXPECTED, source })
            }
        }
    }
    fn show(field: &T) -> String {
        T::NAMES.iter().find(|(v, _)| v == field).map(|(_, n)| n.to_string()).unwrap_or_default()
    }
}

/// A duration written in whole minutes (options named `*_minutes`); huge values saturate.
pub struct Minutes;

impl Codec for Minutes {
    type Field = Duration;
    type Raw = u64;
    const KIND: Kind = Kind::Number;
    fn decode(raw: u64) -> Result<Duration, Rejected> {
        Ok(Duration::from_secs(raw.saturating_mul(60)))
    }
    fn show(field: &Duration) -> String {
        (field.as_secs() / 60).to_string()
    }
}

/// A listener that can be turned off: `HOST:PORT`, or `off` (or an empty value) for none.
pub struct Switchable;

impl Codec for Switchable {
    type Field = Option<SocketAddr>;
    type Raw = String;
    const KIND: Kind = Kind::Address;
    fn decode(raw: String) -> Result<Option<SocketAddr>, Rejected> {
        match raw.as_str() {
            "off" | "" => Ok(None),
            v => v.parse().map(Some).map_err(|e| Rejected {
                value: v.to_string(),
                expected: "HOST:PORT or off",
                source: Box::new(e),
            }),
        }
    }
    fn show(field: &Option<SocketAddr>) -> String {
        field.map_or_else(|| "off".to_string(), |a| a.to_string())
    }
}

/// The peer listener: `auto`, `HOST:PORT`, or `off` (or an empty value) for none.
pub struct PeerListenAt;

impl Codec for PeerListenAt {
    type Field = crate::PeerListen;
    type Raw = String;
    const KIND: Kind = Kind::Address;
    fn decode(raw: String) -> Result<crate::PeerListen, Rejected> {
        match raw.as_str() {
            "auto" => Ok(crate::PeerListen::Auto),
            v => Switchable::decode(raw.clone())
                .map(|addr| addr.map_or(crate::PeerListen::Off, crate::PeerListen::At))
                .map_err(|e| Rejected { value: v.to_string(), expected: "HOST:PORT, auto or off", source: e.source }),
        }
    }
    fn show(field: &crate::PeerListen) -> String {
        match field {
            crate::PeerListen::Auto => "auto".into(),
            crate::PeerListen::Off => "off".into(),
            crate::PeerListen::At(addr) => addr.to_string(),
        }
    }
}

/// A node id, or `-1` (Kafka's broker.id default) for one taken from the agent registry.
pub struct NodeId;

impl Codec for NodeId {
    type Field = Option<i32>;
    type Raw = i32;
    const KIND: Kind = Kind::Number;
    fn decode(raw: i32) -> Result<Option<i32>, Rejected> {
        match raw {
            -1 => Ok(None),
            id if id >= 0 => Ok(Some(id)),
            id => Err(Rejected {
                value: id.to_string(),
                expected: "a node id of 0 or more, or -1 for one from the registry",
                source: "negative node id".into(),
            }),
        }
    }
    fn show(field: &Option<i32>) -> String {
        field.unwrap_or(-1).to_string()
    }
}

/// A comma-separated list of roles (`kafka,jobs`).
pub struct RoleList;

impl Codec for RoleList {
    type Field = crate::Roles;
    type Raw = String;
    const KIND: Kind = Kind::Roles;
    fn decode(raw: String) -> Result<crate::Roles, Rejected> {
        crate::Roles::parse(&raw).map_err(|e| Rejected {
            value: raw,
            expected: "a comma-separated list of kafka and jobs",
            source: Box::new(e),
        })
    }
    fn show(field: &crate::Roles) -> String {
        field.to_string()
    }
}
