//! `/config` and `/mode`: the registry's and each subject's compatibility settings and mode.

use super::{Params, Shared, flag};
use crate::body::{JsonBody, ok};
use crate::error::ApiError;
use crate::level::{Compatibility, Mode};
use axum::extract::Path;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_meta::RegistryConfig;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Debug, Deserialize)]
pub struct ConfigBody {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
    normalize: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ModeBody {
    mode: Option<String>,
}

fn config_reply(key: &str, config: &RegistryConfig, default_level: bool) -> Value {
    let mut out = Map::new();
    let level = match (&config.compatibility, default_level) {
        (Some(level), _) => Some(level.clone()),
        (None, true) => Some(Compatibility::default().to_string()),
        (None, false) => None,
    };
    if let Some(level) = level {
        out.insert(key.into(), json!(level));
    }
    if let Some(normalize) = config.normalize {
        out.insert("normalize".into(), json!(normalize));
    }
    Value::Object(out)
}

fn parse_config(body: ConfigBody) -> Result<RegistryConfig> {
    let given = body.compatibility.or(body.compatibility_level);
    let compatibility = match given {
        Some(text) => {
            Some(text.parse::<Compatibility>().map_err(|_| ApiError::invalid_compatibility(&text))?.to_string())
        }
        None if body.normalize.is_none() => return Err(ApiError::invalid_compatibility("")),
        None => None,
    };
    Ok(RegistryConfig { compatibility, normalize: body.normalize })
}

/// A subject's own config merged over what it had (a PUT of `normalize` alone keeps the level).
async fn merged(registry: &Shared, subject: Option<&str>, new: RegistryConfig) -> Result<RegistryConfig> {
    let old = registry.store().registry_config(subject).await?;
    Ok(RegistryConfig {
        compatibility: new.compatibility.or(old.compatibility),
        normalize: new.normalize.or(old.normalize),
    })
}

pub async fn get_config(registry: Shared) -> Result<Response> {
    let config = registry.store().registry_config(None).await?;
    Ok(ok(config_reply("compatibilityLevel", &config, true)))
}

pub async fn put_config(registry: Shared, JsonBody(body): JsonBody<ConfigBody>) -> Result<Response> {
    let config = merged(&registry, None, parse_config(body)?).await?;
    registry.store().set_registry_config(None, &config).await?;
    Ok(ok(config_reply("compatibility", &config, false)))
}

pub async fn delete_config(registry: Shared) -> Result<Response> {
    let old = registry.store().registry_config(None).await?;
    registry.store().set_registry_config(None, &RegistryConfig::default()).await?;
    Ok(ok(config_reply("compatibilityLevel", &old, true)))
}

pub async fn get_subject_config(registry: Shared, Path(subject): Path<String>, params: Params) -> Result<Response> {
    let own = registry.store().registry_config(Some(&subject)).await?;
    if own.compatibility.is_some() || own.normalize.is_some() {
        return Ok(ok(config_reply("compatibilityLevel", &own, false)));
    }
    if !flag(&params, "defaultToGlobal") {
        return Err(ApiError::compatibility_not_configured(&subject));
    }
    let global = registry.store().registry_config(None).await?;
    Ok(ok(config_reply("compatibilityLevel", &global, true)))
}

pub async fn put_subject_config(
    registry: Shared,
    Path(subject): Path<String>,
    JsonBody(body): JsonBody<ConfigBody>,
) -> Result<Response> {
    let config = merged(&registry, Some(&subject), parse_config(body)?).await?;
    registry.store().set_registry_config(Some(&subject), &config).await?;
    Ok(ok(config_reply("compatibility", &config, false)))
}

pub async fn delete_subject_config(registry: Shared, Path(subject): Path<String>) -> Result<Response> {
    let old = registry.store().registry_config(Some(&subject)).await?;
    if old == RegistryConfig::default() {
        if registry.store().subject_versions(&subject).await?.is_empty() {
            return Err(ApiError::subject_not_found(&subject));
        }
        return Err(ApiError::compatibility_not_configured(&subject));
    }
    registry.store().set_registry_config(Some(&subject), &RegistryConfig::default()).await?;
    Ok(ok(config_reply("compatibilityLevel", &old, false)))
}

fn parse_mode(body: ModeBody) -> Result<Mode> {
    let text = body.mode.unwrap_or_default();
    text.parse().map_err(|_| ApiError::invalid_mode(&text))
}

pub async fn get_mode(registry: Shared) -> Result<Response> {
    Ok(ok(json!({"mode": registry.effective_mode(None).await?.as_str()})))
}

/// IMPORT over existing schemas needs `force=true`: imported ids could clash with theirs.
async fn check_import(registry: &Shared, subject: Option<&str>, mode: Mode, params: &Params) -> Result<()> {
    if mode != Mode::Import || flag(params, "force") {
        return Ok(());
    }
    let present = match subject {
        Some(s) => !registry.store().subject_versions(s).await?.is_empty(),
        None => !registry.store().subjects(true).await?.is_empty(),
    };
    if present {
        return Err(ApiError::not_permitted("Cannot import since found existing subjects"));
    }
    Ok(())
}

pub async fn put_mode(registry: Shared, params: Params, JsonBody(body): JsonBody<ModeBody>) -> Result<Response> {
    let mode = parse_mode(body)?;
    check_import(&registry, None, mode, &params).await?;
    registry.store().set_registry_mode(None, Some(mode.as_str())).await?;
    Ok(ok(json!({"mode": mode.as_str()})))
}

pub async fn delete_mode(registry: Shared) -> Result<Response> {
    let old = registry.effective_mode(None).await?;
    registry.store().set_registry_mode(None, None).await?;
    Ok(ok(json!({"mode": old.as_str()})))
}

pub async fn get_subject_mode(registry: Shared, Path(subject): Path<String>, params: Params) -> Result<Response> {
    match registry.store().registry_mode(Some(&subject)).await? {
        Some(mode) => Ok(ok(json!({"mode": mode}))),
        None if flag(&params, "defaultToGlobal") => get_mode(registry).await,
        None => Err(ApiError::mode_not_configured(&subject)),
    }
}

pub async fn put_subject_mode(
    registry: Shared,
    Path(subject): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<ModeBody>,
) -> Result<Response> {
    let mode = parse_mode(body)?;
    check_import(&registry, Some(&subject), mode, &params).await?;
    registry.store().set_registry_mode(Some(&subject), Some(mode.as_str())).await?;
    Ok(ok(json!({"mode": mode.as_str()})))
}

pub async fn delete_subject_mode(registry: Shared, Path(subject): Path<String>) -> Result<Response> {
    let Some(old) = registry.store().registry_mode(Some(&subject)).await? else {
        return Err(ApiError::mode_not_configured(&subject));
    };
    registry.store().set_registry_mode(Some(&subject), None).await?;
    Ok(ok(json!({"mode": old})))
}
