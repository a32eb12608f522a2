//! S3 and S3-compatible stores: `s3://bucket[/prefix][?option=value&...]`.
//!
//! Credentials, region and endpoint come from the standard `AWS_*` variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...) as
//! `object_store` reads them, and any of its S3 options may also be given in the URL's query (for example
//! `?endpoint=http://127.0.0.1:9000&region=us-east-1` for MinIO or another local server). Requests are
//! path-style unless `virtual_hosted_style_request=true`; a plain `http://` endpoint is allowed because it was
//! named explicitly. Every object lives under `prefix`, so several clusters can share one bucket.
//!
//! Each HTTP request has a timeout and is retried by `object_store` on throttling (503 SlowDown) and server
//! errors with backoff; the retry layer above adds Weft's own bounded attempts. An acknowledged S3 PUT is
//! durable, so no durability layer is needed here.

use crate::base::Base;
use crate::error::StorageError;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// One HTTP request (a whole segment PUT included) must finish within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Establishing a connection must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle pooled connections kept per host, and for how long.
const POOL_IDLE_PER_HOST: usize = 32;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the S3 store named by `url` (already parsed as `parsed`).
pub(crate) fn open(url: &str, parsed: &url::Url) -> Result<Base, StorageError> {
    let bad = |reason: String| StorageError::BadS3 { url: without_query(url), reason };
    let s3 = builder(url, parsed)?.build().map_err(|e| bad(e.to_string()))?;
    let prefix = parsed.path().trim_matches('/');
    let store: Arc<dyn ObjectStore> =
        if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix.to_string())) };
    Ok(Base { store, local_root: None })
}

/// The S3 client configuration: Weft's client bounds, then the `AWS_*` variables, then the URL's query.
fn builder(url: &str, parsed: &url::Url) -> Result<AmazonS3Builder, StorageError> {
    let bad = |reason: String| StorageError::BadS3 { url: without_query(url), reason };
    let bucket = parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad("no bucket named".into()))?;
    // Client options first: `with_client_options` replaces them whole, so the variables and the query
    // (which may set client options such as `allow_http`) must come after.
    let mut builder = AmazonS3Builder::new().with_client_options(client_options()).with_retry(retry_config());
    for (key, value) in std::env::vars_os() {
        // As `AmazonS3Builder::from_env`: variables that are not UTF-8 or name no S3 option are ignored.
        let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else { continue };
        if let Some(config) = key.strip_prefix("AWS_").and(key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>().ok()) {
            builder = builder.with_config(config, value);
        }
    }
    // The URL names the bucket, whatever `AWS_BUCKET` says.
    builder = builder.with_bucket_name(bucket);
    for (key, value) in parsed.query_pairs() {
        let config: AmazonS3ConfigKey = key.parse().map_err(|_| bad(format!("unknown s3 option {key:?}")))?;
        builder = builder.with_config(config, value);
    }
    let http_endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
    if http_endpoint {
        builder = builder.with_allow_http(true);
    }
    Ok(builder)
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_pool_max_idle_per_host(POOL_IDLE_PER_HOST)
        .with_pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

/// Throttling and server errors are retried with jittered exponential backoff, within a bound short enough
/// that a producer still gets an answer within its delivery timeout.
fn retry_config() -> RetryConfig {
    RetryConfig { backoff: BackoffConfig::default(), max_retries: 4, retry_timeout: Duration::from_secs(30) }
}

/// `url` without its query, which may carry credentials: what is shown in errors and logs.
pub(crate) fn without_query(url: &str) -> String {
    url.split_once('?').map_or(url, |(base, _)| base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_url(url: &str) -> Result<Base, StorageError> {
        let parsed = url::Url::parse(url).expect("url");
        open(url, &parsed)
    }

    #[test]
    fn bucket_prefix_and_options_come_from_the_url() {
        let url =
            "s3://weft/cluster-a?endpoint=http://127.0.0.1:9&region=us-east-1&access_key_id=a&secret_access_key=b";
        let base = open_url(url).expect("an s3 url with options opens (nothing is contacted yet)");
        assert!(base.local_root.is_none());
        assert!(format!("{}", base.store).contains("cluster-a"), "{}", base.store);
    }

    #[test]
    fn a_named_http_endpoint_is_allowed_and_client_bounds_survive() {
        let url = "s3://weft/p?endpoint=http://127.0.0.1:9";
        let b = builder(url, &url::Url::parse(url).expect("url")).expect("builds");
        let allow = b.get_config_value(&AmazonS3ConfigKey::Client(object_store::ClientConfigKey::AllowHttp));
        assert_eq!(allow.as_deref(), Some("true"));
        let timeout = b.get_config_value(&AmazonS3ConfigKey::Client(object_store::ClientConfigKey::Timeout));
        assert!(timeout.as_deref().is_some_and(|t| t.contains("30")), "{timeout:?}");
    }

    #[test]
    fn unknown_options_and_missing_buckets_are_refused_without_echoing_the_query() {
        let err = open_url("s3://weft/x?no_such_option=1&secret_access_key=hidden").expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("unknown s3 option") && !text.contains("hidden"), "{text}");
        assert!(matches!(open_url("s3:///x"), Err(StorageError::BadS3 { .. })));
    }
}
