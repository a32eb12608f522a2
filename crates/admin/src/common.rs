//! What every command shares: connection options, the librdkafka client configuration, output as a table or
//! JSON, and parsing of `key=value` arguments and times.

use anyhow::{Result, anyhow, bail};
use comfy_table::Table;
use rdkafka::config::ClientConfig;
use serde::Serialize;
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// Kafka bootstrap servers (comma-separated host:port)
    #[arg(long, short = 'b', env = "WEFT_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092", global = true)]
    pub bootstrap_servers: String,
    /// Print JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Bound on every request to the cluster, in seconds
    #[arg(long, default_value_t = 10, global = true)]
    pub timeout_secs: u64,
    /// A client property as librdkafka takes it, e.g. -X security.protocol=SSL -X ssl.ca.location=ca.pem
    /// (repeatable; wins over --command-config)
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_kv, global = true)]
    pub property: Vec<(String, String)>,
    /// A Java properties file of client properties (as Kafka's tools take)
    #[arg(long, value_name = "FILE", global = true)]
    pub command_config: Option<std::path::PathBuf>,
}

impl ConnArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The client properties: the `--command-config` file's, then the `-X` ones (later ones win).
    pub fn properties(&self) -> Result<Vec<(String, String)>> {
        let mut all = match &self.command_config {
            Some(path) => crate::security::read_properties(path)?,
            None => Vec::new(),
        };
        all.extend(self.property.iter().cloned());
        Ok(all)
    }

    /// A librdkafka configuration for this cluster, with the client properties as given. Connection
    /// failures surface as one clear error from the command, not as a stream of client logs.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers)
            .set("socket.timeout.ms", (self.timeout_secs.max(1) * 1000).to_string())
            .set("log_level", "2");
        for (k, v) in self.properties()? {
            c.set(k, v);
        }
        Ok(c)
    }

    /// The error for a cluster that did not answer.
    pub fn unreachable(&self, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("cannot reach the cluster at {}: {e}", self.bootstrap_servers)
    }
}

/// Prints `value` as one line of JSON, or the table `table` builds.
pub fn emit<T: Serialize>(json: bool, value: &T, table: impl FnOnce() -> Table) -> Result<()> {
    let text = if json { serde_json::to_string(value)? } else { table().to_string() };
    print_line(&text)
}

/// Prints a line to stdout; a closed pipe (`| head`) ends the output quietly instead of panicking.
pub fn print_line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut t = Table::new();
    t.set_header(header.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    t
}

/// `key=value`, split at the first `=`; the value may be empty, the key may not.
pub fn parse_kv(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("expected key=value, got {s:?}"),
    }
}

/// Epoch milliseconds, or an RFC 3339 time `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
pub fn parse_time(s: &str) -> Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || anyhow!("invalid time {s:?}: expected epoch milliseconds or RFC 3339 like 2026-11-23T10:00:00Z");
    let (date, rest) = s.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let (time, offset_min) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-']).ok_or_else(bad)?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':').ok_or_else(bad)?;
        let h: i64 = h.parse().map_err(|_| bad())?;
        let m: i64 = m.parse().map_err(|_| bad())?;
        (t, sign * (h * 60 + m))
    };
    let d: Vec<i64> = date.split('-').map(|x| x.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    if d.len() != 3 || t.len() != 3 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) || frac.is_empty() {
        return Err(bad());
    }
    let ms: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + t[0]) * 60 + t[1] - offset_min) * 60_000 + t[2] * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc_milliseconds() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z").unwrap(), 1_700_000_000_500);
        assert_eq!(parse_time("2023-11-15T00:13:20+02:00").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("2023-11-14T21:43:20.123-00:30").unwrap(), 1_700_000_000_123);
        for bad in ["yesterday", "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z", "2023-11-14T22:13Z"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_values_split_at_the_first_equals_sign() {
        assert_eq!(parse_kv("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_kv("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_kv("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_kv("=b").is_err());
        assert!(parse_kv("ab").is_err());
    }
}
