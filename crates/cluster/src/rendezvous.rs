//! Rendezvous (highest-random-weight) hashing: each key goes to the node with the highest hash of
//! (key, node). Every agent computes the same answer from the same live set with no coordination; when a
//! node joins it takes about 1/(N+1) of the keys from the others and nothing else moves; when one leaves
//! only its keys move. The hash is spelled out here (FNV-1a, then a SplitMix64 finalizer) rather than
//! taken from `std`, whose hasher may change between Rust releases while agents of two builds must agree.

use uuid::Uuid;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// SplitMix64's finalizer: spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A stable 64-bit hash of bytes.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    mix(bytes.iter().fold(FNV_OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)))
}

/// The key of a partition.
pub fn partition_key(topic_id: Uuid, partition: i32) -> u64 {
    let mut bytes = [0u8; 20];
    bytes[..16].copy_from_slice(topic_id.as_bytes());
    bytes[16..].copy_from_slice(&partition.to_be_bytes());
    hash_bytes(&bytes)
}

/// The key of an object (its name in the bucket), for choosing the agent of a zone that reads it.
pub fn object_key(key: &str) -> u64 {
    hash_bytes(key.as_bytes())
}

/// The weight of `node` for `key`.
fn weight(key: u64, node: i32) -> u64 {
    mix(key ^ mix(u64::from(node as u32).wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// The node of `nodes` with the highest weight for `key` (ties, which need equal 64-bit hashes, go to the
/// lower id); `None` when `nodes` is empty.
pub fn owner(key: u64, nodes: impl IntoIterator<Item = i32>) -> Option<i32> {
    nodes.into_iter().max_by_key(|n| (weight(key, *n), std::cmp::Reverse(*n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(keys: &[u64], nodes: &[i32]) -> Vec<i32> {
        keys.iter().map(|k| owner(*k, nodes.iter().copied()).expect("nodes")).collect()
    }

    fn keys(n: usize) -> Vec<u64> {
        let topic = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        (0..n).map(|p| partition_key(topic, p as i32)).collect()
    }

    #[test]
    fn keys_spread_evenly_over_nodes() {
        let keys = keys(12_000);
        for n in [2, 3, 5, 8] {
            let nodes: Vec<i32> = (0..n).collect();
            let got = owners(&keys, &nodes);
            let expected = keys.len() as f64 / f64::from(n);
            for node in &nodes {
                let count = got.iter().filter(|o| *o == node).count() as f64;
                assert!(
                    (count - expected).abs() < expected * 0.1,
                    "node {node} of {n}: {count} keys, expected {expected}"
                );
            }
        }
    }

    #[test]
    fn a_joining_node_takes_about_its_share_and_nothing_else_moves() {
        let keys = keys(12_000);
        for n in [2, 3, 4, 9] {
            let before: Vec<i32> = (0..n).collect();
            let after: Vec<i32> = (0..=n).collect();
            let (old, new) = (owners(&keys, &before), owners(&keys, &after));
            let moved: Vec<usize> = (0..keys.len()).filter(|i| old[*i] != new[*i]).collect();
            assert!(moved.iter().all(|i| new[*i] == n), "keys moved only to the new node");
            let share = keys.len() as f64 / f64::from(n + 1);
            let count = moved.len() as f64;
            assert!((count - share).abs() < share * 0.1, "{n}+1 nodes: {count} moved, expected about {share}");
        }
    }

    #[test]
    fn a_leaving_node_gives_up_only_its_own_keys() {
        let keys = keys(5_000);
        let (old, new) = (owners(&keys, &[1, 2, 3, 4]), owners(&keys, &[1, 2, 4]));
        for i in 0..keys.len() {
            if old[i] != 3 {
                assert_eq!(old[i], new[i], "key {i} moved though its owner stayed");
            }
        }
    }

    #[test]
    fn the_owner_depends_on_the_set_not_its_order() {
        for k in keys(200) {
            assert_eq!(owner(k, [5, 1, 9]), owner(k, [9, 5, 1]));
        }
        assert_eq!(owner(7, []), None);
    }

    #[test]
    fn hashes_are_fixed_across_builds() {
        // Agents of different builds must agree: these values must never change.
        assert_eq!(hash_bytes(b"weft"), 0x6ae6_5afe_cbe8_478d);
        assert_eq!(owner(hash_bytes(b"group-a"), 0..5), Some(1));
    }
}
