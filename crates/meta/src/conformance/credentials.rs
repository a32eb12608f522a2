//! Conformance of [`crate::Credentials`]: one credential per user and mechanism, replaced whole, listed in
//! order, deleted once.

use crate::{Metastore, ScramCredential};

fn credential(user: &str, mechanism: &str, seed: u8, iterations: i32) -> ScramCredential {
    ScramCredential {
        user: user.into(),
        mechanism: mechanism.into(),
        salt: vec![seed; 16],
        stored_key: vec![seed.wrapping_add(1); 32],
        server_key: vec![seed.wrapping_add(2), 0, 0xff],
        iterations,
    }
}

pub async fn scram_credentials(store: &dyn Metastore) {
    assert_eq!(store.scram_credential("alice", "SCRAM-SHA-256").await.expect("read"), None);
    let a256 = credential("alice", "SCRAM-SHA-256", 1, 4096);
    let a512 = credential("alice", "SCRAM-SHA-512", 2, 8192);
    let b256 = credential("bob", "SCRAM-SHA-256", 3, 4096);
    for c in [&b256, &a512, &a256] {
        store.put_scram_credential(c).await.expect("put");
    }
    assert_eq!(store.scram_credential("alice", "SCRAM-SHA-512").await.expect("read"), Some(a512.clone()));
    let all = store.scram_credentials(None).await.expect("all");
    assert_eq!(all, vec![a256.clone(), a512.clone(), b256.clone()], "by user, then mechanism");
    let named = store.scram_credentials(Some(&["bob".into(), "carol".into(), "bob".into()])).await.expect("named");
    assert_eq!(named, vec![b256.clone()], "unknown users have none; duplicates listed once");

    let replaced = credential("alice", "SCRAM-SHA-256", 9, 16384);
    store.put_scram_credential(&replaced).await.expect("replace");
    assert_eq!(store.scram_credential("alice", "SCRAM-SHA-256").await.expect("read"), Some(replaced));

    assert!(store.delete_scram_credential("alice", "SCRAM-SHA-256").await.expect("delete"));
    assert!(!store.delete_scram_credential("alice", "SCRAM-SHA-256").await.expect("again"), "deleted once");
    assert_eq!(store.scram_credentials(Some(&["alice".into()])).await.expect("rest"), vec![a512]);
    assert!(store.delete_scram_credential("alice", "SCRAM-SHA-512").await.expect("delete"));
    assert!(store.delete_scram_credential("bob", "SCRAM-SHA-256").await.expect("delete"));
    assert!(store.scram_credentials(None).await.expect("none").is_empty());
}
