//! `weft user create | list | delete`: SCRAM users, through the Kafka API of a running cluster
//! (AlterUserScramCredentials, DescribeUserScramCredentials; works against Kafka too), or with `--metastore`
//! straight in a Weft metastore, to create the first user before any agent requires SASL (as
//! `kafka-storage format --add-scram` does for Kafka).

use crate::common::{ConnArgs, emit, print_line, table};
use crate::wire::{Wire, error_text, str_bytes};
use anyhow::{Context, Result, anyhow, bail};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};
use serde::Serialize;
use weft_sasl::scram::{MAX_ITERATIONS, MIN_ITERATIONS, ScramMechanism};

#[derive(clap::Args, Debug, Clone)]
pub struct UserArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Work on this Weft metastore directly instead of a cluster (sqlite:///abs/meta.db or postgres://...),
    /// e.g. to create the first user
    #[arg(long, global = true)]
    pub metastore: Option<String>,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Create a user, or set a new password, with SCRAM credentials (they also serve PLAIN logins)
    Create {
        name: String,
        /// The password (or set WEFT_USER_PASSWORD, which keeps it out of the process list)
        #[arg(long, env = "WEFT_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// The SCRAM mechanisms to store credentials for
        #[arg(long, value_delimiter = ',', default_value = "SCRAM-SHA-256,SCRAM-SHA-512")]
        mechanism: Vec<String>,
        /// PBKDF2 iterations (Kafka accepts 4096 to 16384)
        #[arg(long, default_value_t = MIN_ITERATIONS)]
        iterations: i32,
    },
    /// List users and their SCRAM mechanisms
    List,
    /// Delete a user's SCRAM credentials (all mechanisms unless --mechanism is given)
    Delete {
        name: String,
        #[arg(long, value_delimiter = ',')]
        mechanism: Vec<String>,
    },
}

#[derive(Serialize)]
struct UserRow {
    user: String,
    mechanism: String,
    iterations: i32,
}

pub async fn run_user(args: UserArgs) -> Result<()> {
    let rows = match &args.metastore {
        Some(url) => offline(url, &args.command).await?,
        None => online(&args).await?,
    };
    match rows {
        Some(rows) => emit(args.conn.json, &rows, || {
            table(
                &["USER", "MECHANISM", "ITERATIONS"],
                rows.iter().map(|r| vec![r.user.clone(), r.mechanism.clone(), r.iterations.to_string()]),
            )
        }),
        None => Ok(()),
    }
}

fn mechanisms(names: &[String]) -> Result<Vec<ScramMechanism>> {
    names
        .iter()
        .map(|n| {
            ScramMechanism::from_name(n.trim())
                .ok_or_else(|| anyhow!("unknown SCRAM mechanism {n:?} (SCRAM-SHA-256, SCRAM-SHA-512)"))
        })
        .collect()
}

fn check_iterations(iterations: i32) -> Result<()> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        bail!("iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}, not {iterations}");
    }
    Ok(())
}

fn new_salt() -> Vec<u8> {
    [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()].iter().flat_map(|u| u.into_bytes()).collect()
}

async fn online(args: &UserArgs) -> Result<Option<Vec<UserRow>>> {
    // Logs in as the -X / --command-config properties say (security.protocol=SASL_PLAINTEXT, sasl.mechanism ...).
    let mut w = Wire::connect(&args.conn).await?;
    let alter = match &args.command {
        UserCommand::List => return describe(&mut w).await.map(Some),
        UserCommand::Create { name, password, mechanism, iterations } => {
            check_iterations(*iterations)?;
            let upsertions = mechanisms(mechanism)?
                .into_iter()
                .map(|m| {
                    let salt = new_salt();
                    let salted = m.salted_password(password.as_bytes(), &salt, *iterations);
                    ScramCredentialUpsertion::default()
                        .with_name(str_bytes(name))
                        .with_mechanism(m.kafka_type())
                        .with_iterations(*iterations)
                        .with_salt(salt.into())
                        .with_salted_password(salted.into())
                })
                .collect();
            AlterUserScramCredentialsRequest::default().with_upsertions(upsertions)
        }
        UserCommand::Delete { name, mechanism } => {
            let ms = match mechanism.is_empty() {
                true => stored_mechanisms(&mut w, name).await?,
                false => mechanisms(mechanism)?,
            };
            let deletions = ms
                .into_iter()
                .map(|m| ScramCredentialDeletion::default().with_name(str_bytes(name)).with_mechanism(m.kafka_type()))
                .collect();
            AlterUserScramCredentialsRequest::default().with_deletions(deletions)
        }
    };
    let (resp, _) = w.call(0, &alter).await?;
    for r in &resp.results {
        if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
            bail!("user {}: {e}", r.user.as_str());
        }
    }
    print_line("ok")?;
    Ok(None)
}

async fn describe(w: &mut Wire) -> Result<Vec<UserRow>> {
    let (resp, _) = w.call(0, &DescribeUserScramCredentialsRequest::default().with_users(None)).await?;
    if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
        bail!("the cluster refused DescribeUserScramCredentials: {e}");
    }
    let mut rows = Vec::new();
    for r in resp.results {
        if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
            bail!("user {}: {e}", r.user.as_str());
        }
        for i in r.credential_infos {
            let mechanism = ScramMechanism::from_kafka_type(i.mechanism).map_or("unknown", |m| m.name());
            rows.push(UserRow { user: r.user.to_string(), mechanism: mechanism.into(), iterations: i.iterations });
        }
    }
    Ok(rows)
}

async fn stored_mechanisms(w: &mut Wire, name: &str) -> Result<Vec<ScramMechanism>> {
    let ms: Vec<ScramMechanism> = describe(w)
        .await?
        .into_iter()
        .filter(|r| r.user == name)
        .filter_map(|r| ScramMechanism::from_name(&r.mechanism))
        .collect();
    if ms.is_empty() {
        bail!("user {name} has no SCRAM credentials");
    }
    Ok(ms)
}

async fn offline(url: &str, command: &UserCommand) -> Result<Option<Vec<UserRow>>> {
    let meta =
        weft_meta::open(url).await.with_context(|| format!("opening metastore {}", weft_meta::url_shown(url)))?;
    match command {
        UserCommand::List => {
            let stored = meta.scram_credentials(None).await?;
            let rows = stored
                .into_iter()
                .map(|c| UserRow { user: c.user, mechanism: c.mechanism, iterations: c.iterations })
                .collect();
            return Ok(Some(rows));
        }
        UserCommand::Create { name, password, mechanism, iterations } => {
            check_iterations(*iterations)?;
            if name.is_empty() {
                bail!("the user name must not be empty");
            }
            for m in mechanisms(mechanism)? {
                let keys = m.keys_from_password(password, &new_salt(), *iterations);
                let c = weft_meta::ScramCredential {
                    user: name.clone(),
                    mechanism: m.name().into(),
                    salt: keys.salt,
                    stored_key: keys.stored_key,
                    server_key: keys.server_key,
                    iterations: *iterations,
                };
                meta.put_scram_credential(&c).await?;
            }
        }
        UserCommand::Delete { name, mechanism } => {
            let ms = match mechanism.is_empty() {
                true => vec![ScramMechanism::Sha256, ScramMechanism::Sha512],
                false => mechanisms(mechanism)?,
            };
            let mut deleted = false;
            for m in ms {
                deleted |= meta.delete_scram_credential(name, m.name()).await?;
            }
            if !deleted {
                bail!("user {name} has no such SCRAM credentials");
            }
        }
    }
    print_line("ok")?;
    Ok(None)
}
