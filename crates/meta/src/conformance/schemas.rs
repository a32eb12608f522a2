//! Conformance of [`crate::Schemas`]: global ids shared by equal content, versions per subject, soft and
//! permanent deletes (in that order), references blocking deletes, explicit placement (IMPORT), conditional
//! registration, settings per scope, and concurrent registrations giving one id per content.

use crate::{Deletion, Metastore, Placement, Registration, RegistryConfig, SchemaContent, SchemaReference};

fn content(text: &str) -> SchemaContent {
    SchemaContent {
        schema_type: "AVRO".into(),
        text: text.into(),
        references: Vec::new(),
        fingerprint: format!("fp-{text}"),
    }
}

async fn register(store: &dyn Metastore, subject: &str, c: &SchemaContent) -> Registration {
    store.register_schema(subject, c, Placement::default(), None).await.expect("register")
}

pub async fn ids_are_global_and_versions_grow(store: &dyn Metastore) {
    let a = content("\"string\"");
    let b = content("\"int\"");
    assert_eq!(register(store, "ids-a", &a).await, Registration::Registered { id: 1, version: 1 });
    assert_eq!(register(store, "ids-a", &a).await, Registration::Existing { id: 1, version: 1 }, "same content");
    assert_eq!(register(store, "ids-b", &a).await, Registration::Registered { id: 1, version: 1 }, "id reused");
    assert_eq!(register(store, "ids-a", &b).await, Registration::Registered { id: 2, version: 2 });
    let stored = store.schema_by_id(2).await.expect("by id").expect("stored");
    assert_eq!(stored.content, b);
    assert_eq!(store.schema_by_id(99).await.expect("by id"), None);
    assert_eq!(store.schema_id_by_fingerprint(&a.fingerprint).await.expect("fp"), Some(1));
    let usages = store.schema_usages(1).await.expect("usages");
    let pairs: Vec<(&str, i32)> = usages.iter().map(|u| (u.subject.as_str(), u.version)).collect();
    assert_eq!(pairs, [("ids-a", 1), ("ids-b", 1)]);
    assert_eq!(store.subjects(false).await.expect("subjects"), ["ids-a", "ids-b"]);
    let versions = store.subject_versions("ids-a").await.expect("versions");
    assert_eq!(versions.iter().map(|v| (v.version, v.schema_id)).collect::<Vec<_>>(), [(1, 1), (2, 2)]);

    // Conditional registration: only on top of the version the caller checked.
    let c = content("\"long\"");
    let stale = store.register_schema("ids-a", &c, Placement::default(), Some(Some(1))).await.expect("stale");
    assert_eq!(stale, Registration::Stale { latest: Some(2) });
    let ok = store.register_schema("ids-a", &c, Placement::default(), Some(Some(2))).await.expect("ok");
    assert_eq!(ok, Registration::Registered { id: 3, version: 3 });
    let fresh = store.register_schema("ids-new", &c, Placement::default(), Some(None)).await.expect("fresh");
    assert_eq!(fresh, Registration::Registered { id: 3, version: 1 });
}

pub async fn deletes_are_soft_then_permanent(store: &dyn Metastore) {
    let a = content("{\"type\":\"fixed\",\"size\":1,\"name\":\"del\"}");
    let b = content("{\"type\":\"fixed\",\"size\":2,\"name\":\"del\"}");
    let Registration::Registered { id: id_a, .. } = register(store, "del", &a).await else { panic!("a") };
    let Registration::Registered { id: id_b, .. } = register(store, "del", &b).await else { panic!("b") };
    assert_eq!(store.delete_schema_version("del", 1, true).await.expect("hard"), Deletion::NotSoftDeleted);
    assert_eq!(store.delete_schema_version("del", 9, false).await.expect("none"), Deletion::NoVersion);
    assert_eq!(store.delete_schema_version("nope", 1, false).await.expect("none"), Deletion::NoSubject);
    assert_eq!(store.delete_schema_version("del", 1, false).await.expect("soft"), Deletion::Deleted(vec![1]));
    assert_eq!(store.delete_schema_version("del", 1, false).await.expect("again"), Deletion::AlreadySoftDeleted);
    let versions = store.subject_versions("del").await.expect("versions");
    assert!(versions[0].deleted && !versions[1].deleted, "{versions:?}");
    assert!(store.schema_by_id(id_a).await.expect("kept").is_some(), "soft-deleted schemas stay readable");
    assert_eq!(store.delete_schema_version("del", 1, true).await.expect("hard"), Deletion::Deleted(vec![1]));
    assert_eq!(store.schema_by_id(id_a).await.expect("gone"), None, "unused schemas go with their last version");

    // Re-registering the removed content gets a new id: ids are never reused.
    let again = register(store, "del", &a).await;
    let Registration::Registered { id: id_again, version: 3 } = again else { panic!("{again:?}") };
    assert!(id_again > id_b, "{id_again} after {id_b}");

    // Whole subjects: soft (live versions), then permanent (everything, settings too).
    let config = RegistryConfig { compatibility: Some("NONE".into()), normalize: None };
    store.set_registry_config(Some("del"), &config).await.expect("config");
    assert_eq!(store.delete_subject("del", true).await.expect("hard first"), Deletion::NotSoftDeleted);
    assert_eq!(store.delete_subject("del", false).await.expect("soft"), Deletion::Deleted(vec![2, 3]));
    assert_eq!(store.delete_subject("del", false).await.expect("again"), Deletion::AlreadySoftDeleted);
    assert!(!store.subjects(false).await.expect("live").contains(&"del".to_string()));
    assert!(store.subjects(true).await.expect("all").contains(&"del".to_string()));
    assert_eq!(store.delete_subject("del", true).await.expect("hard"), Deletion::Deleted(vec![2, 3]));
    assert!(!store.subjects(true).await.expect("all").contains(&"del".to_string()));
    assert_eq!(store.registry_config(Some("del")).await.expect("config"), RegistryConfig::default());
    assert_eq!(store.delete_subject("del", false).await.expect("none"), Deletion::NoSubject);
}

pub async fn references_block_deletes(store: &dyn Metastore) {
    let base = content("{\"type\":\"fixed\",\"size\":3,\"name\":\"base\"}");
    register(store, "ref-base", &base).await;
    let mut user = content("{\"type\":\"fixed\",\"size\":3,\"name\":\"user\"}");
    user.references = vec![SchemaReference { name: "base".into(), subject: "ref-base".into(), version: 1 }];
    let Registration::Registered { id, .. } = register(store, "ref-user", &user).await else { panic!("user") };
    assert_eq!(store.schema_by_id(id).await.expect("read").expect("stored").content.references, user.references);
    assert_eq!(store.referenced_by("ref-base", 1).await.expect("by"), [id]);
    assert_eq!(store.delete_schema_version("ref-base", 1, false).await.expect("del"), Deletion::Referenced(vec![id]));
    assert_eq!(store.delete_subject("ref-base", false).await.expect("del"), Deletion::Referenced(vec![id]));
    store.delete_subject("ref-user", false).await.expect("soft");
    store.delete_subject("ref-user", true).await.expect("hard");
    assert!(store.referenced_by("ref-base", 1).await.expect("by").is_empty());
    assert_eq!(store.delete_subject("ref-base", false).await.expect("del"), Deletion::Deleted(vec![1]));
}

pub async fn explicit_placement_and_settings(store: &dyn Metastore) {
    let a = content("{\"type\":\"fixed\",\"size\":4,\"name\":\"imp\"}");
    let b = content("{\"type\":\"fixed\",\"size\":5,\"name\":\"imp\"}");
    let at = |id, version| Placement { id: Some(id), version: Some(version) };
    let done = store.register_schema("imp", &a, at(500, 7), None).await.expect("import");
    assert_eq!(done, Registration::Registered { id: 500, version: 7 });
    let clash = store.register_schema("imp2", &b, at(500, 1), None).await.expect("clash");
    assert!(matches!(clash, Registration::Conflict { .. }), "{clash:?}");
    let clash = store.register_schema("imp", &b, at(501, 7), None).await.expect("clash");
    assert!(matches!(clash, Registration::Conflict { .. }), "{clash:?}");
    let next = register(store, "imp", &b).await;
    assert_eq!(next, Registration::Registered { id: 501, version: 8 }, "allocation continues after imported ids");

    assert_eq!(store.registry_config(None).await.expect("global"), RegistryConfig::default());
    let full = RegistryConfig { compatibility: Some("FULL".into()), normalize: Some(true) };
    store.set_registry_config(None, &full).await.expect("set");
    store.set_registry_mode(Some("imp"), Some("READONLY")).await.expect("mode");
    assert_eq!(store.registry_config(None).await.expect("global"), full);
    assert_eq!(store.registry_config(Some("imp")).await.expect("subject"), RegistryConfig::default());
    assert_eq!(store.registry_mode(Some("imp")).await.expect("mode").as_deref(), Some("READONLY"));
    assert_eq!(store.registry_mode(None).await.expect("mode"), None);
    store.set_registry_config(None, &RegistryConfig::default()).await.expect("clear");
    store.set_registry_mode(Some("imp"), None).await.expect("clear");
    assert_eq!(store.registry_config(None).await.expect("global"), RegistryConfig::default());
    assert_eq!(store.registry_mode(Some("imp")).await.expect("mode"), None);
}

/// Many registrations at once (on PostgreSQL, over many connections): each content one id, each subject
/// version once.
pub async fn concurrent_registrations_never_duplicate(store: &dyn Metastore) {
    let one = |i: usize| async move {
        let text = format!("{{\"type\":\"fixed\",\"size\":{},\"name\":\"conc\"}}", 100 + i % 4);
        register(store, &format!("conc-{}", i % 3), &content(&text)).await
    };
    let (r0, r1, r2, r3, r4, r5, r6, r7) = tokio::join!(one(0), one(1), one(2), one(3), one(4), one(5), one(6), one(7));
    let (r8, r9, r10, r11) = tokio::join!(one(8), one(9), one(10), one(11));
    let results = [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11];
    let mut ids = std::collections::BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        let (Registration::Registered { id, .. } | Registration::Existing { id, .. }) = *r else { panic!("{r:?}") };
        let previous = ids.insert(i % 4, id);
        assert!(previous.is_none_or(|p| p == id), "content {} got ids {previous:?} and {id}", i % 4);
    }
    let distinct: std::collections::BTreeSet<i32> = ids.values().copied().collect();
    assert_eq!(distinct.len(), 4, "{ids:?}");
    for s in 0..3 {
        let versions = store.subject_versions(&format!("conc-{s}")).await.expect("versions");
        let numbers: Vec<i32> = versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, (1..=numbers.len() as i32).collect::<Vec<_>>(), "dense versions");
        let mut used: Vec<i32> = versions.iter().map(|v| v.schema_id).collect();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), versions.len(), "no content twice in one subject: {versions:?}");
    }
}
