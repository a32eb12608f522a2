//! Conformance of [`crate::Acls`]: bindings stored once, deletions exact, a version that moves with every
//! change and only then.

use crate::{AclRecord, Metastore};

fn acl(name: &str, principal: &str, operation: i8) -> AclRecord {
    AclRecord {
        resource_type: 2,
        resource_name: name.into(),
        pattern_type: 3,
        principal: principal.into(),
        host: "*".into(),
        operation,
        permission: 3,
    }
}

pub async fn acls_are_stored_once_and_versioned(store: &dyn Metastore) {
    let start = store.acls().await.expect("acls");
    assert!(start.acls.is_empty(), "a new store has no ACLs");
    assert_eq!(store.acl_version().await.expect("version"), start.version);
    let a = acl("orders", "User:alice", 3);
    let b = acl("orders", "User:bob", 4);
    let v1 = store.create_acls(&[a.clone(), b.clone()]).await.expect("create");
    assert!(v1 > start.version, "a change moves the version");
    let again = store.create_acls(std::slice::from_ref(&a)).await.expect("create again");
    assert_eq!(again, v1, "storing a stored binding changes nothing");
    let mut prefixed = acl("ord", "User:*", 2);
    prefixed.pattern_type = 4;
    prefixed.host = "10.0.0.1".into();
    prefixed.permission = 2;
    let v2 = store.create_acls(std::slice::from_ref(&prefixed)).await.expect("create prefixed");
    assert!(v2 > v1);
    let all = store.acls().await.expect("acls");
    assert_eq!(all.version, v2);
    let mut expected = vec![a.clone(), b.clone(), prefixed.clone()];
    expected.sort();
    assert_eq!(all.acls, expected, "every field round-trips, sorted");
    let distinct = AclRecord { permission: 2, ..a.clone() };
    let v3 = store.create_acls(std::slice::from_ref(&distinct)).await.expect("differs in permission only");
    assert!(v3 > v2);
    assert_eq!(store.acls().await.expect("acls").acls.len(), 4);
    assert!(store.create_acls(&[]).await.expect("nothing") == v3);
}

pub async fn deletions_remove_exact_bindings(store: &dyn Metastore) {
    let a = acl("payments", "User:carol", 3);
    let b = acl("payments", "User:dave", 3);
    store.create_acls(&[a.clone(), b.clone()]).await.expect("create");
    let before = store.acl_version().await.expect("version");
    let absent = acl("payments", "User:nobody", 3);
    assert!(store.delete_acls(std::slice::from_ref(&absent)).await.expect("delete").is_empty());
    assert_eq!(store.acl_version().await.expect("version"), before, "deleting nothing changes nothing");
    let removed = store.delete_acls(&[a.clone(), absent, a.clone()]).await.expect("delete");
    assert_eq!(removed, vec![a.clone()], "each removed once");
    let after = store.acl_version().await.expect("version");
    assert!(after > before);
    let left = store.acls().await.expect("acls").acls;
    assert!(left.contains(&b) && !left.contains(&a));
    assert_eq!(store.delete_acls(std::slice::from_ref(&b)).await.expect("delete"), vec![b]);
}
