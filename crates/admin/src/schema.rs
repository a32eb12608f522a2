//! `weft schema register | get | list | check | delete | config`: a client of Confluent's Schema Registry REST
//! API, so it works against Weft's registry and any compatible one (`--registry URL`).

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

#[derive(clap::Args, Debug, Clone)]
pub struct SchemaArgs {
    /// The schema registry's base URL
    #[arg(long, env = "WEFT_SCHEMA_REGISTRY", default_value = "http://127.0.0.1:8081", global = true)]
    pub registry: String,
    #[command(subcommand)]
    pub command: SchemaCommand,
}

/// The schema text: from a file (`-` is stdin) or given inline.
#[derive(clap::Args, Debug, Clone)]
pub struct SchemaSource {
    /// File holding the schema ("-" reads stdin)
    #[arg(long, conflicts_with = "schema", required_unless_present = "schema")]
    pub file: Option<std::path::PathBuf>,
    /// The schema text itself
    #[arg(long)]
    pub schema: Option<String>,
    /// AVRO, PROTOBUF or JSON
    #[arg(long = "type", default_value = "AVRO")]
    pub schema_type: String,
    /// A referenced schema, as NAME=SUBJECT:VERSION (repeatable)
    #[arg(long = "reference", value_name = "NAME=SUBJECT:VERSION")]
    pub references: Vec<String>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum SchemaCommand {
    /// Register a schema under a subject; prints its id
    Register {
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        source: SchemaSource,
        /// Normalize the schema before comparing and storing it
        #[arg(long)]
        normalize: bool,
    },
    /// Show a schema: by global id, or a subject's version (default the latest)
    Get {
        #[arg(long, conflicts_with = "subject", required_unless_present = "subject")]
        id: Option<i32>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value = "latest")]
        version: String,
    },
    /// List subjects, or the versions of one subject
    List {
        #[arg(long)]
        subject: Option<String>,
        /// Include soft-deleted subjects or versions
        #[arg(long)]
        deleted: bool,
    },
    /// Check a schema against a subject's compatibility level (exits non-zero when incompatible)
    Check {
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        source: SchemaSource,
        /// The version to check against; all versions the level names when not given
        #[arg(long)]
        version: Option<String>,
    },
    /// Delete a subject or one version: soft, or with --permanent after a soft delete
    Delete {
        #[arg(long)]
        subject: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        permanent: bool,
    },
    /// Show or set the compatibility level (global, or of one subject)
    Config {
        #[arg(long)]
        subject: Option<String>,
        /// NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE
        #[arg(long)]
        set: Option<String>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
}

/// One path segment, percent-encoded (subject names may hold '/', spaces, ...).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut request = self.http.request(method, &url).timeout(std::time::Duration::from_secs(30));
        if let Some(body) = body {
            request = request.header("content-type", "application/vnd.schemaregistry.v1+json").body(body.to_string());
        }
        let response = request.send().await.with_context(|| format!("cannot reach the schema registry at {url}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the answer of {url}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = value["message"].as_str().map_or_else(|| value.to_string(), str::to_string);
            match value["error_code"].as_i64() {
                Some(code) => bail!("{message} (http {}, error code {code})", status.as_u16()),
                None => bail!("{message} (http {})", status.as_u16()),
            }
        }
        Ok(value)
    }
}

fn schema_body(source: &SchemaSource) -> Result<Value> {
    let text = match (&source.schema, &source.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())?,
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read schema file {}", path.display()))?
        }
        (None, None) => bail!("give --file or --schema"),
    };
    let mut references = Vec::new();
    for r in &source.references {
        let parsed = r.split_once('=').and_then(|(name, rest)| {
            let (subject, version) = rest.rsplit_once(':')?;
            Some((name, subject, version.parse::<i32>().ok()?))
        });
        let Some((name, subject, version)) = parsed else {
            bail!("reference {r:?} is not NAME=SUBJECT:VERSION");
        };
        references.push(json!({"name": name, "subject": subject, "version": version}));
    }
    Ok(json!({"schema": text, "schemaType": source.schema_type.to_ascii_uppercase(), "references": references}))
}

fn print(value: &Value) {
    match value {
        Value::String(text) => println!("{text}"),
        other => println!("{}", serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string())),
    }
}

pub async fn run_schema(args: SchemaArgs) -> Result<()> {
    let client = Client { http: reqwest::Client::new(), base: args.registry.clone() };
    use reqwest::Method;
    match args.command {
        SchemaCommand::Register { subject, source, normalize } => {
            let path = format!("/subjects/{}/versions?normalize={normalize}", segment(&subject));
            let reply = client.call(Method::POST, &path, Some(schema_body(&source)?)).await?;
            println!("{}", reply["id"]);
        }
        SchemaCommand::Get { id: Some(id), .. } => {
            print(&client.call(Method::GET, &format!("/schemas/ids/{id}"), None).await?)
        }
        SchemaCommand::Get { subject, version, .. } => {
            let subject = subject.unwrap_or_default();
            let path = format!("/subjects/{}/versions/{}", segment(&subject), segment(&version));
            print(&client.call(Method::GET, &path, None).await?);
        }
        SchemaCommand::List { subject, deleted } => {
            let path = match subject {
                Some(s) => format!("/subjects/{}/versions?deleted={deleted}", segment(&s)),
                None => format!("/subjects?deleted={deleted}"),
            };
            let reply = client.call(Method::GET, &path, None).await?;
            for item in reply.as_array().into_iter().flatten() {
                print(item);
            }
        }
        SchemaCommand::Check { subject, source, version } => {
            let path = match version {
                Some(v) => {
                    format!("/compatibility/subjects/{}/versions/{}?verbose=true", segment(&subject), segment(&v))
                }
                None => format!("/compatibility/subjects/{}/versions?verbose=true", segment(&subject)),
            };
            let reply = client.call(Method::POST, &path, Some(schema_body(&source)?)).await?;
            if reply["is_compatible"] != json!(true) {
                let messages: Vec<String> =
                    reply["messages"].as_array().into_iter().flatten().map(|m| m.to_string()).collect();
                bail!("incompatible with subject {subject}: {}", messages.join("; "));
            }
            println!("compatible");
        }
        SchemaCommand::Delete { subject, version, permanent } => {
            let path = match version {
                Some(v) => format!("/subjects/{}/versions/{}?permanent={permanent}", segment(&subject), segment(&v)),
                None => format!("/subjects/{}?permanent={permanent}", segment(&subject)),
            };
            print(&client.call(Method::DELETE, &path, None).await?);
        }
        SchemaCommand::Config { subject, set } => {
            let path = match &subject {
                Some(s) => format!("/config/{}", segment(s)),
                None => "/config".to_string(),
            };
            let reply = match set {
                Some(level) => client.call(Method::PUT, &path, Some(json!({"compatibility": level}))).await?,
                None if subject.is_some() => {
                    client.call(Method::GET, &format!("{path}?defaultToGlobal=true"), None).await?
                }
                None => client.call(Method::GET, &path, None).await?,
            };
            print(&reply);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::segment("orders-value"), "orders-value");
        assert_eq!(super::segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn references_must_name_subject_and_version() {
        let source = |r: &str| super::SchemaSource {
            file: None,
            schema: Some("\"int\"".into()),
            schema_type: "avro".into(),
            references: vec![r.into()],
        };
        let body = super::schema_body(&source("Address=address-value:2")).unwrap();
        assert_eq!(body["references"][0]["version"], 2);
        assert_eq!(body["schemaType"], "AVRO");
        assert!(super::schema_body(&source("Address")).is_err());
        assert!(super::schema_body(&source("A=s:x")).is_err());
    }
}
