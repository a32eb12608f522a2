//! Kafka's named listeners: `--listeners NAME://HOST:PORT,...`, `--advertised-listeners` and
//! `--listener-security-protocol-map NAME:PROTOCOL,...`, checked as Kafka checks them, and the
//! [`SecurityProtocol`] every connection knows (TLS and SASL are decided by it).
//!
//! Without `--listeners` the agent has one listener, `PLAINTEXT`, bound at `--listen` and advertised at
//! `--advertised-listener` (the options Weft had before named listeners). With `--listeners`, `--listen` must
//! stay at its default and `--advertised-listener` unset, so one configuration never names two addresses for a
//! listener; `--advertised-listeners` may name any of the listeners either way.

use crate::AgentConfig;
use crate::key;
use crate::validate::ConfigError;

/// The security protocol of a listener (Kafka's `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [Self::Plaintext, Self::Ssl, Self::SaslPlaintext, Self::SaslSsl];

    /// The name as Kafka writes it (`SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol named `name` (case-insensitive, as Kafka's `SecurityProtocol.forName`).
    pub fn parse(name: &str) -> Option<SecurityProtocol> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether connections are encrypted with TLS (SSL, SASL_SSL).
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether clients must authenticate with SASL (SASL_PLAINTEXT, SASL_SSL).
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One Kafka listener of the agent, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// Upper case (`PLAINTEXT`, `INTERNAL`).
    pub name: String,
    pub protocol: SecurityProtocol,
    /// Where it binds: a host name or address; empty for every interface.
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// What Metadata gives clients of this listener; `None` derives it from the bound address.
    pub advertised: Option<(String, u16)>,
}

/// One `NAME://HOST:PORT` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    name: String,
    host: String,
    port: u16,
}

fn problem(option: &str, problem: String) -> ConfigError {
    ConfigError::Listeners { option: crate::flag(option), problem }
}

/// Parses `NAME://HOST:PORT,...` (host empty, a name, an IPv4 address or a bracketed IPv6 address).
fn endpoints(option: &str, value: &str) -> Result<Vec<Endpoint>, ConfigError> {
    let mut out: Vec<Endpoint> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || problem(option, format!("{entry:?} is not NAME://HOST:PORT"));
        let (name, address) = entry.split_once("://").ok_or_else(bad)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let valid_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(problem(
                option,
                format!("listener name {name:?} in {entry:?} must be letters, digits, _ or -"),
            ));
        }
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.strip_suffix(']').ok_or_else(bad)?,
            None if host.contains(':') || host.contains('/') => return Err(bad()),
            None => host,
        };
        let name = name.to_ascii_uppercase();
        if out.iter().any(|e| e.name == name) {
            return Err(problem(
                option,
                format!("listener name {name} is given twice; each listener needs its own name"),
            ));
        }
        out.push(Endpoint { name, host: host.to_string(), port });
    }
    if out.is_empty() {
        return Err(problem(option, "no listener given".into()));
    }
    Ok(out)
}

/// Parses `NAME:PROTOCOL,...`; without a map, each protocol name maps to itself (Kafka's default).
fn protocol_map(value: Option<&str>) -> Result<Vec<(String, SecurityProtocol)>, ConfigError> {
    let option = key::listener_security_protocol_map;
    let Some(value) = value else {
        return Ok(SecurityProtocol::ALL.iter().map(|p| (p.name().to_string(), *p)).collect());
    };
    let mut out: Vec<(String, SecurityProtocol)> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, protocol) =
            entry.split_once(':').ok_or_else(|| problem(option, format!("{entry:?} is not NAME:PROTOCOL")))?;
        let protocol = SecurityProtocol::parse(protocol.trim()).ok_or_else(|| {
            problem(
                option,
                format!("unknown security protocol {protocol:?}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
            )
        })?;
        let name = name.trim().to_ascii_uppercase();
        if out.iter().any(|(n, _)| *n == name) {
            return Err(problem(option, format!("listener name {name} is mapped twice")));
        }
        out.push((name, protocol));
    }
    Ok(out)
}

impl AgentConfig {
    /// The Kafka listeners this configuration asks for, checked (names and ports unique, every name with a
    /// security protocol, advertised names among the listeners, no ambiguous mix with `--listen`).
    pub fn kafka_listeners(&self) -> Result<Vec<ListenerSpec>, ConfigError> {
        let declared = self.declared_endpoints()?;
        let map = protocol_map(self.listener_security_protocol_map.as_deref())?;
        let advertised = self.advertised_endpoints()?;
        let mut specs = Vec::new();
        for e in declared {
            let protocol = map.iter().find(|(n, _)| *n == e.name).map(|(_, p)| *p).ok_or_else(|| {
                problem(
                    key::listener_security_protocol_map,
                    format!("no security protocol is defined for listener {}", e.name),
                )
            })?;
            if e.port != 0 && specs.iter().any(|s: &ListenerSpec| s.port == e.port) {
                return Err(problem(key::listeners, format!("port {} is used by two listeners", e.port)));
            }
            let advertised = advertised.iter().find(|a| a.name == e.name).map(|a| (a.host.clone(), a.port));
            specs.push(ListenerSpec { name: e.name, protocol, host: e.host, port: e.port, advertised });
        }
        for a in &advertised {
            if !specs.iter().any(|s| s.name == a.name) {
                return Err(problem(
                    key::advertised_listeners,
                    format!("listener {} is not among the listeners ({})", a.name, names(&specs)),
                ));
            }
            if a.host.is_empty() || a.host == "0.0.0.0" || a.host == "::" || a.port == 0 {
                return Err(problem(
                    key::advertised_listeners,
                    format!("{}://{}:{} cannot be reached by clients: name a host and a port", a.name, a.host, a.port),
                ));
            }
        }
        Ok(specs)
    }

    /// `--listeners`, or the one PLAINTEXT listener of `--listen`.
    fn declared_endpoints(&self) -> Result<Vec<Endpoint>, ConfigError> {
        let Some(value) = self.listeners.as_deref() else {
            let listen = self.listen;
            return Ok(vec![Endpoint { name: "PLAINTEXT".into(), host: listen.ip().to_string(), port: listen.port() }]);
        };
        if self.listen != crate::options::declared_defaults().listen {
            return Err(problem(
                key::listeners,
                format!(
                    "--listen {} cannot be combined with --listeners: name that address in --listeners \
                     (e.g. PLAINTEXT://{})",
                    self.listen, self.listen
                ),
            ));
        }
        endpoints(key::listeners, value)
    }

    /// `--advertised-listeners`, or `--advertised-listener` for the PLAINTEXT listener of `--listen`.
    fn advertised_endpoints(&self) -> Result<Vec<Endpoint>, ConfigError> {
        match (&self.advertised_listeners, &self.advertised_listener) {
            (Some(_), Some(_)) => Err(problem(
                key::advertised_listener,
                "--advertised-listener and --advertised-listeners name the same thing: give only \
                 --advertised-listeners"
                    .into(),
            )),
            (None, Some(_)) if self.listeners.is_some() => Err(problem(
                key::advertised_listener,
                "--advertised-listener cannot be combined with --listeners: use --advertised-listeners \
                 NAME://HOST:PORT,..."
                    .into(),
            )),
            (Some(v), None) => endpoints(key::advertised_listeners, v),
            (None, Some(v)) => {
                let bad = || problem(key::advertised_listener, format!("{v:?} is not HOST:PORT"));
                let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
                let port: u16 = port.parse().map_err(|_| bad())?;
                let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
                if host.is_empty() {
                    return Err(bad());
                }
                Ok(vec![Endpoint { name: "PLAINTEXT".into(), host, port }])
            }
            (None, None) => Ok(Vec::new()),
        }
    }
}

fn names(specs: &[ListenerSpec]) -> String {
    specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(listeners: &str) -> AgentConfig {
        AgentConfig { listeners: Some(listeners.into()), ..AgentConfig::default() }
    }

    fn error(c: &AgentConfig) -> String {
        c.kafka_listeners().unwrap_err().to_string()
    }

    #[test]
    fn without_listeners_there_is_one_plaintext_listener_at_listen() {
        let c = AgentConfig { advertised_listener: Some("broker:19092".into()), ..AgentConfig::default() };
        let specs = c.kafka_listeners().unwrap();
        assert_eq!(
            specs,
            vec![ListenerSpec {
                name: "PLAINTEXT".into(),
                protocol: SecurityProtocol::Plaintext,
                host: "127.0.0.1".into(),
                port: 9092,
                advertised: Some(("broker".into(), 19092)),
            }]
        );
    }

    #[test]
    fn named_listeners_take_their_protocol_from_the_default_map() {
        let mut c = with("PLAINTEXT://:9092, ssl://[::1]:9093,SASL_SSL://0.0.0.0:9094");
        c.advertised_listeners = Some("SSL://b1.example:19093".into());
        let specs = c.kafka_listeners().unwrap();
        let got: Vec<_> = specs.iter().map(|s| (s.name.as_str(), s.protocol, s.host.as_str(), s.port)).collect();
        assert_eq!(
            got,
            vec![
                ("PLAINTEXT", SecurityProtocol::Plaintext, "", 9092),
                ("SSL", SecurityProtocol::Ssl, "::1", 9093),
                ("SASL_SSL", SecurityProtocol::SaslSsl, "0.0.0.0", 9094),
            ]
        );
        assert_eq!(specs[1].advertised, Some(("b1.example".into(), 19093)));
        assert_eq!(specs[0].advertised, None);
    }

    #[test]
    fn a_protocol_map_names_custom_listeners_and_replaces_the_default() {
        let mut c = with("INTERNAL://:9092,EXTERNAL://:9093");
        c.listener_security_protocol_map = Some("INTERNAL:PLAINTEXT,EXTERNAL:sasl_ssl".into());
        let specs = c.kafka_listeners().unwrap();
        assert_eq!(specs[1].protocol, SecurityProtocol::SaslSsl);
        c.listener_security_protocol_map = Some("INTERNAL:PLAINTEXT".into());
        assert!(error(&c).contains("no security protocol is defined for listener EXTERNAL"), "{}", error(&c));
        let c = with("INTERNAL://:9092");
        assert!(error(&c).contains("listener INTERNAL"), "the default map knows only protocol names");
    }

    #[test]
    fn bad_listener_configurations_are_refused_with_the_reason() {
        let cases = [
            (with("PLAINTEXT://:9092,plaintext://:9093"), "given twice"),
            (with("PLAINTEXT://:9092,SSL://:9092"), "port 9092 is used by two listeners"),
            (with("PLAINTEXT:/:9092"), "is not NAME://HOST:PORT"),
            (with("PLAINTEXT://:port"), "is not NAME://HOST:PORT"),
            (with("PLAINTEXT://::1:9092"), "is not NAME://HOST:PORT"),
            (with("PLAIN TEXT://:9092"), "must be letters"),
            (with(" , "), "no listener given"),
            (AgentConfig { listen: "0.0.0.0:9000".parse().unwrap(), ..with("PLAINTEXT://:9092") }, "--listen"),
            (AgentConfig { advertised_listener: Some("h:1".into()), ..with("PLAINTEXT://:9092") }, "--listeners"),
            (
                AgentConfig { listener_security_protocol_map: Some("PLAINTEXT:TLS".into()), ..with("PLAINTEXT://:1") },
                "unknown security protocol \"TLS\"",
            ),
            (
                AgentConfig { listener_security_protocol_map: Some("A:SSL,a:SSL".into()), ..with("A://:1") },
                "mapped twice",
            ),
            (
                AgentConfig { advertised_listeners: Some("SSL://h:1".into()), ..with("PLAINTEXT://:1") },
                "listener SSL is not among the listeners (PLAINTEXT)",
            ),
            (
                AgentConfig { advertised_listeners: Some("PLAINTEXT://0.0.0.0:1".into()), ..with("PLAINTEXT://:1") },
                "cannot be reached",
            ),
            (
                AgentConfig {
                    advertised_listeners: Some("PLAINTEXT://h:1".into()),
                    advertised_listener: Some("h:1".into()),
                    ..AgentConfig::default()
                },
                "give only --advertised-listeners",
            ),
        ];
        for (config, expected) in cases {
            let e = error(&config);
            assert!(e.contains(expected), "{e:?} should contain {expected:?}");
        }
    }

    #[test]
    fn ports_zero_may_repeat_and_advertised_listeners_work_without_listeners() {
        assert_eq!(with("A://127.0.0.1:0,B://127.0.0.1:0").listener_security_protocol_map, None);
        let mut c = with("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0");
        assert_eq!(c.kafka_listeners().unwrap().len(), 2);
        c.listeners = None;
        c.advertised_listeners = Some("PLAINTEXT://example:1".into());
        assert_eq!(c.kafka_listeners().unwrap()[0].advertised, Some(("example".into(), 1)));
    }

    #[test]
    fn protocols_say_whether_they_use_tls_and_sasl() {
        assert_eq!(SecurityProtocol::parse("sasl_ssl"), Some(SecurityProtocol::SaslSsl));
        assert_eq!(SecurityProtocol::parse("TLS"), None);
        let tls: Vec<_> = SecurityProtocol::ALL.into_iter().filter(|p| p.uses_tls()).collect();
        let sasl: Vec<_> = SecurityProtocol::ALL.into_iter().filter(|p| p.uses_sasl()).collect();
        assert_eq!(tls, vec![SecurityProtocol::Ssl, SecurityProtocol::SaslSsl]);
        assert_eq!(sasl, vec![SecurityProtocol::SaslPlaintext, SecurityProtocol::SaslSsl]);
    }
}
