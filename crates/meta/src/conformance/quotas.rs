//! Conformance of [`crate::Quotas`]: entities kept apart (named, default, absent parts), keys set, replaced
//! and removed, one entity's changes all or nothing visible together.

use crate::{Metastore, QuotaEntity, QuotaName, QuotaRecord};

fn rec(entity: &QuotaEntity, key: &str, value: f64) -> QuotaRecord {
    QuotaRecord { entity: entity.clone(), key: key.into(), value }
}

fn of(all: &[QuotaRecord], entity: &QuotaEntity) -> Vec<(String, f64)> {
    all.iter().filter(|r| &r.entity == entity).map(|r| (r.key.clone(), r.value)).collect()
}

pub async fn client_quotas(store: &dyn Metastore) {
    let alice = QuotaEntity::user("alice");
    let alice_app = QuotaEntity { client_id: Some(QuotaName::Named("app".into())), ..alice.clone() };
    let default_user = QuotaEntity { user: Some(QuotaName::Default), client_id: None };
    let default_both = QuotaEntity { user: Some(QuotaName::Default), client_id: Some(QuotaName::Default) };
    let empty_named = QuotaEntity::client("");
    let set = |k: &str, v: f64| (k.to_string(), Some(v));
    store
        .alter_client_quotas(&alice, &[set("producer_byte_rate", 1024.0), set("consumer_byte_rate", 2048.0)])
        .await
        .expect("set alice");
    store.alter_client_quotas(&alice_app, &[set("request_percentage", 12.5)]).await.expect("set alice/app");
    store.alter_client_quotas(&default_user, &[set("producer_byte_rate", 1.0)]).await.expect("set default");
    store.alter_client_quotas(&default_both, &[set("producer_byte_rate", 2.0)]).await.expect("set defaults");
    store.alter_client_quotas(&empty_named, &[set("producer_byte_rate", 3.0)]).await.expect("set empty name");
    let all = store.client_quotas().await.expect("read");
    assert_eq!(all.len(), 6, "{all:?}");
    assert_eq!(of(&all, &alice), [("consumer_byte_rate".to_string(), 2048.0), ("producer_byte_rate".into(), 1024.0)]);
    assert_eq!(of(&all, &alice_app), [("request_percentage".to_string(), 12.5)], "fractions kept");
    assert!(all.contains(&rec(&default_user, "producer_byte_rate", 1.0)), "the default user is its own entity");
    assert!(all.contains(&rec(&default_both, "producer_byte_rate", 2.0)));
    assert!(all.contains(&rec(&empty_named, "producer_byte_rate", 3.0)), "an empty name is not the default");

    // Replace one key and remove another (and one never set) in one call.
    store
        .alter_client_quotas(
            &alice,
            &[set("producer_byte_rate", 4096.0), ("consumer_byte_rate".into(), None), ("nope".into(), None)],
        )
        .await
        .expect("alter alice");
    let all = store.client_quotas().await.expect("read");
    assert_eq!(of(&all, &alice), [("producer_byte_rate".to_string(), 4096.0)]);
    assert_eq!(of(&all, &alice_app).len(), 1, "other entities untouched");

    // Removing every key removes the entity.
    for e in [&alice, &alice_app, &default_user, &default_both, &empty_named] {
        let keys: Vec<(String, Option<f64>)> = of(&all, e).into_iter().map(|(k, _)| (k, None)).collect();
        store.alter_client_quotas(e, &keys).await.expect("remove");
    }
    assert!(store.client_quotas().await.expect("read").is_empty());
}
