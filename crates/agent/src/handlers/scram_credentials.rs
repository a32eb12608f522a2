//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554): SCRAM credentials in the
//! metastore, so every agent knows every user. Describe needs DESCRIBE on the cluster, Alter needs ALTER,
//! as in Kafka; per-user errors follow Kafka's (RESOURCE_NOT_FOUND, DUPLICATE_RESOURCE,
//! UNSUPPORTED_SASL_MECHANISM, UNACCEPTABLE_CREDENTIAL).

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
};
use std::collections::{BTreeMap, HashSet};
use weft_meta::ScramCredential;
use weft_sasl::scram::{MAX_ITERATIONS, MIN_ITERATIONS, ScramMechanism};

type Refusal = (i16, String);

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeUserScramCredentialsRequest,
    _version: i16,
) -> DescribeUserScramCredentialsResponse {
    if let Err(code) = check(ctx, Operation::Describe, Resource::Cluster) {
        return DescribeUserScramCredentialsResponse::default().with_error_code(code);
    }
    let named: Option<Vec<String>> =
        req.users.filter(|u| !u.is_empty()).map(|u| u.into_iter().map(|n| n.name.to_string()).collect());
    let stored = match agent.meta.scram_credentials(named.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "describe scram credentials failed");
            return DescribeUserScramCredentialsResponse::default()
                .with_error_code(e.code())
                .with_error_message(Some(str_bytes(e.to_string())));
        }
    };
    let mut by_user: BTreeMap<String, Vec<CredentialInfo>> = BTreeMap::new();
    for c in stored {
        let Some(m) = ScramMechanism::from_name(&c.mechanism) else { continue };
        let info = CredentialInfo::default().with_mechanism(m.kafka_type()).with_iterations(c.iterations);
        by_user.entry(c.user).or_default().push(info);
    }
    let results = match named {
        None => by_user.into_iter().map(|(user, infos)| described(&user, infos)).collect(),
        Some(names) => {
            let mut seen = HashSet::new();
            let duplicated: HashSet<&String> = names.iter().filter(|n| !seen.insert(*n)).collect();
            let mut listed = HashSet::new();
            names
                .iter()
                .filter(|n| listed.insert(*n))
                .map(|user| match (duplicated.contains(user), by_user.remove(user)) {
                    (true, _) => refused(
                        user,
                        (
                            ResponseError::DuplicateResource.code(),
                            format!(
                                "cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                            ),
                        ),
                    ),
                    (false, Some(infos)) => described(user, infos),
                    (false, None) => refused(
                        user,
                        (
                            ResponseError::ResourceNotFound.code(),
                            format!("attempt to describe a user credential that does not exist: {user}"),
                        ),
                    ),
                })
                .collect()
        }
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

fn described(user: &str, infos: Vec<CredentialInfo>) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default().with_user(str_bytes(user)).with_credential_infos(infos)
}

fn refused(user: &str, (code, message): Refusal) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default()
        .with_user(str_bytes(user))
        .with_error_code(code)
        .with_error_message(Some(str_bytes(message)))
}

/// One user's requested changes.
#[derive(Default)]
struct UserChanges {
    deletions: Vec<ScramMechanism>,
    upsertions: Vec<ScramCredential>,
    refusal: Option<Refusal>,
}

pub async fn alter(
    agent: &Agent,
    ctx: &RequestContext,
    req: AlterUserScramCredentialsRequest,
    _version: i16,
) -> AlterUserScramCredentialsResponse {
    let mut users: Vec<(String, UserChanges)> = Vec::new();
    let mut seen: HashSet<(String, i8)> = HashSet::new();
    for d in &req.deletions {
        let i = index(&mut users, &d.name);
        let changes = &mut users[i].1;
        let outcome = mechanism(&d.name, d.mechanism, &mut seen);
        match outcome {
            Ok(m) => changes.deletions.push(m),
            Err(r) => keep_first(changes, r),
        }
    }
    for u in req.upsertions {
        let i = index(&mut users, &u.name);
        let changes = &mut users[i].1;
        let outcome = mechanism(&u.name, u.mechanism, &mut seen).and_then(|m| {
            acceptable(&u.name, u.iterations, &u.salt, &u.salted_password)?;
            let keys = m.keys_from_salted(&u.salted_password, &u.salt, u.iterations);
            Ok(ScramCredential {
                user: u.name.to_string(),
                mechanism: m.name().to_string(),
                salt: keys.salt,
                stored_key: keys.stored_key,
                server_key: keys.server_key,
                iterations: u.iterations,
            })
        });
        match outcome {
            Ok(c) => changes.upsertions.push(c),
            Err(r) => keep_first(changes, r),
        }
    }
    let denied = check(ctx, Operation::Alter, Resource::Cluster).err();
    let mut results = Vec::with_capacity(users.len());
    for (user, changes) in users {
        let outcome = match (denied, changes.refusal) {
            (Some(code), _) => Err((code, "cluster authorization failed".to_string())),
            (None, Some(r)) => Err(r),
            (None, None) => apply(agent, &user, changes.deletions, changes.upsertions).await,
        };
        let mut result = AlterUserScramCredentialsResult::default().with_user(str_bytes(&user));
        if let Err((code, message)) = outcome {
            result = result.with_error_code(code).with_error_message(Some(str_bytes(message)));
        }
        results.push(result);
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// The position of `name` among the users of the request, added if new (results keep request order).
fn index(users: &mut Vec<(String, UserChanges)>, name: &str) -> usize {
    match users.iter().position(|(u, _)| u == name) {
        Some(i) => i,
        None => {
            users.push((name.to_string(), UserChanges::default()));
            users.len() - 1
        }
    }
}

fn keep_first(changes: &mut UserChanges, refusal: Refusal) {
    changes.refusal.get_or_insert(refusal);
}

/// The mechanism of one deletion or upsertion, refused when unknown or named twice for the user.
fn mechanism(user: &str, kafka_type: i8, seen: &mut HashSet<(String, i8)>) -> Result<ScramMechanism, Refusal> {
    if user.is_empty() {
        return Err((ResponseError::UnacceptableCredential.code(), "username must not be empty".into()));
    }
    if !seen.insert((user.to_string(), kafka_type)) {
        let message = format!("a user credential cannot be altered twice in the same request: {user}");
        return Err((ResponseError::DuplicateResource.code(), message));
    }
    ScramMechanism::from_kafka_type(kafka_type).ok_or_else(|| {
        (ResponseError::UnsupportedSaslMechanism.code(), format!("unknown SCRAM mechanism type {kafka_type}"))
    })
}

fn acceptable(user: &str, iterations: i32, salt: &[u8], salted_password: &[u8]) -> Result<(), Refusal> {
    let refuse = |m: String| Err((ResponseError::UnacceptableCredential.code(), m));
    if iterations < MIN_ITERATIONS {
        return refuse(format!("too few iterations for user {user}: {iterations} < {MIN_ITERATIONS}"));
    }
    if iterations > MAX_ITERATIONS {
        return refuse(format!("too many iterations for user {user}: {iterations} > {MAX_ITERATIONS}"));
    }
    if salt.is_empty() || salted_password.is_empty() {
        return refuse(format!("salt and salted password must not be empty for user {user}"));
    }
    Ok(())
}

async fn apply(
    agent: &Agent,
    user: &str,
    deletions: Vec<ScramMechanism>,
    upsertions: Vec<ScramCredential>,
) -> Result<(), Refusal> {
    let stored = |e: weft_meta::MetaError| {
        tracing::warn!(%user, error = %e, "altering scram credentials failed");
        (e.code(), e.to_string())
    };
    for m in &deletions {
        if agent.meta.scram_credential(user, m.name()).await.map_err(stored)?.is_none() {
            let message = format!("attempt to delete a user credential that does not exist: {user} {}", m.name());
            return Err((ResponseError::ResourceNotFound.code(), message));
        }
    }
    for m in deletions {
        agent.meta.delete_scram_credential(user, m.name()).await.map_err(stored)?;
    }
    for c in &upsertions {
        agent.meta.put_scram_credential(c).await.map_err(stored)?;
    }
    Ok(())
}
