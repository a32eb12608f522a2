//! Conformance of [`crate::Health`]: the store answers and takes durable writes.

use crate::Metastore;

/// A fresh store answers pings and passes the write probe.
pub async fn store_answers_and_takes_writes(store: &dyn Metastore) {
    store.ping().await.expect("ping");
    store.write_probe(1).await.expect("a writable store passes the write probe");
}
