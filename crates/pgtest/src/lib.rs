//! A PostgreSQL server for tests, and fresh databases on it.
//!
//! [`PgServer::start`] uses the server named by `WEFT_TEST_POSTGRES_URL` (an admin url, e.g. the one
//! `scripts/postgres-test-server.sh start` prints) when it is set; otherwise it starts a private server:
//! `initdb -A trust` into a temporary directory, listening on 127.0.0.1 only at a free port, its unix socket
//! in that directory, stopped (and the directory removed) when the [`PgServer`] drops. Each
//! [`PgServer::database`] is a new database with a random name, dropped when its [`TestDatabase`] drops.
//!
//! Run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root). Everything here
//! runs the PostgreSQL command-line tools (`initdb`, `pg_ctl`, `psql`), so it needs no async runtime.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable naming a running server to use instead of a private one.
pub const URL_VAR: &str = "WEFT_TEST_POSTGRES_URL";

#[derive(Debug, thiserror::Error)]
pub enum PgTestError {
    #[error("cannot run {command}: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("{command} failed: {output}")]
    Failed { command: String, output: String },
    #[error("test server setup: {0}")]
    Setup(String),
}

pub type Result<T> = std::result::Result<T, PgTestError>;

/// A running PostgreSQL server: shared (from [`URL_VAR`]) or private to this fixture.
pub struct PgServer {
    admin_url: String,
    private: Option<Private>,
}

struct Private {
    data: PathBuf,
    /// Removed after the server stops.
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// The server of [`URL_VAR`] if set, else a private one started now.
    pub fn start() -> Result<PgServer> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Ok(PgServer { admin_url: url, private: None }),
            _ => Self::start_private(),
        }
    }

    fn start_private() -> Result<PgServer> {
        let dir = tempfile::Builder::new()
            .prefix("weft-pgtest-")
            .tempdir()
            .map_err(|e| PgTestError::Setup(format!("temporary directory: {e}")))?;
        let data = dir.path().join("data");
        give_to_server_user(dir.path())?;
        let port = free_port()?;
        run(server_command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&data))?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            dir.path().display()
        );
        run(server_command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .args(["-l"])
            .arg(dir.path().join("server.log"))
            .args(["-o", &options, "start"]))?;
        let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(PgServer { admin_url, private: Some(Private { data, _dir: dir }) })
    }

    /// The admin url (database `postgres`).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// A new, empty database with a random name.
    pub fn database(&self) -> Result<TestDatabase> {
        let name = format!("weft_test_{}", uuid::Uuid::new_v4().simple());
        psql(&self.admin_url, &format!("CREATE DATABASE {name}"))?;
        let url = with_database(&self.admin_url, &name)?;
        Ok(TestDatabase { url, name, admin_url: self.admin_url.clone() })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(p) = &self.private {
            let stopped = run(server_command("pg_ctl").args(["-w", "-m", "immediate", "-D"]).arg(&p.data).arg("stop"));
            if let Err(e) = stopped {
                eprintln!("weft-pgtest: could not stop the private server: {e}");
            }
        }
    }
}

/// A database on a [`PgServer`], dropped (with any connections still open to it) when this drops.
pub struct TestDatabase {
    url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// The url of this database, for `weft_meta::open`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("weft-pgtest: could not drop database {}: {e}", self.name);
        }
    }
}

/// `url` with its database path replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String> {
    let bad = || PgTestError::Setup(format!("{URL_VAR} is not a postgres url with a host"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    if authority.is_empty() {
        return Err(bad());
    }
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// `tool` run as the user the server runs as (`postgres` when we are root).
fn server_command(tool: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", tool]);
        c
    } else {
        Command::new(tool)
    }
}

fn give_to_server_user(dir: &Path) -> Result<()> {
    if is_root() {
        run(Command::new("chown").arg("postgres:").arg(dir))?;
    }
    Ok(())
}

fn psql(url: &str, sql: &str) -> Result<()> {
    run(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]))
}

fn run(cmd: &mut Command) -> Result<()> {
    let command = format!("{:?}", cmd);
    let out = cmd.output().map_err(|source| PgTestError::Spawn { command: command.clone(), source })?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(PgTestError::Failed { command, output })
}

/// A port nobody listens on now (the server binds it moments later).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| PgTestError::Setup(format!("free port: {e}")))?;
    l.local_addr().map(|a| a.port()).map_err(|e| PgTestError::Setup(format!("free port: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_keep_credentials_and_options() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5/postgres?sslmode=disable", "d").unwrap(),
            "postgres://u:p@h:5/d?sslmode=disable"
        );
        assert_eq!(super::with_database("postgresql://h", "d").unwrap(), "postgresql://h/d");
        assert!(super::with_database("nonsense", "d").is_err());
    }

    #[test]
    fn a_server_gives_fresh_databases_and_stops() {
        let server = super::PgServer::start().unwrap();
        let a = server.database().unwrap();
        let b = server.database().unwrap();
        assert_ne!(a.url(), b.url());
        super::psql(a.url(), "CREATE TABLE t (x INT)").unwrap();
        super::psql(b.url(), "CREATE TABLE t (x INT)").unwrap();
    }
}
