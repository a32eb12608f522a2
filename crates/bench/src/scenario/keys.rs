//! Record keys drawn from a scenario's distribution: none, uniform over `count` keys, or Zipf-skewed (a few
//! hot keys take most records), from a seeded xorshift generator so runs are repeatable. The Zipf table is
//! shared (`reseeded`), so the producers of a group hold one copy of it.

use std::sync::Arc;

use super::model::KeySpec;
use crate::payload::{mix64, xorshift64};

/// Draws key indexes (`0..count`) per a [`KeySpec`].
#[derive(Debug, Clone)]
pub struct KeyPicker {
    kind: Kind,
    state: u64,
}

#[derive(Debug, Clone)]
enum Kind {
    None,
    Uniform(u64),
    /// Cumulative weights of keys `0..count`, normalised so the last is 1.
    Zipf(Arc<[f64]>),
}

impl KeyPicker {
    /// A picker for `spec`, seeded with `seed` (counts are bounded by the scenario's validation).
    pub fn new(spec: &KeySpec, seed: u64) -> KeyPicker {
        let kind = match *spec {
            KeySpec::None => Kind::None,
            KeySpec::Uniform { count } => Kind::Uniform(count.max(1)),
            KeySpec::Zipf { count, exponent } => Kind::Zipf(zipf_cdf(count.max(1), exponent).into()),
        };
        KeyPicker { kind, state: mix64(seed) | 1 }
    }

    /// A picker drawing from the same distribution (sharing its table) with its own seed.
    pub fn reseeded(&self, seed: u64) -> KeyPicker {
        KeyPicker { kind: self.kind.clone(), state: mix64(seed) | 1 }
    }

    /// The next key index, `None` without keys.
    pub fn next_index(&mut self) -> Option<u64> {
        match &self.kind {
            Kind::None => None,
            Kind::Uniform(count) => Some(xorshift64(&mut self.state) % count),
            Kind::Zipf(cdf) => {
                let u = unit(xorshift64(&mut self.state));
                let index = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
                Some(index as u64)
            }
        }
    }

    /// A uniform draw in `[0, 1)` from the same generator (record sizes, tombstones).
    pub fn unit(&mut self) -> f64 {
        unit(xorshift64(&mut self.state))
    }
}

/// The key bytes of index `i`.
pub fn key_bytes(i: u64) -> Vec<u8> {
    format!("key-{i}").into_bytes()
}

/// `[0, 1)` from the top 53 bits of `x`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn zipf_cdf(count: u64, exponent: f64) -> Vec<f64> {
    let mut cdf = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut total = 0.0;
    for k in 1..=count {
        total += 1.0 / (k as f64).powf(exponent);
        cdf.push(total);
    }
    for c in &mut cdf {
        *c /= total;
    }
    cdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseeded_pickers_share_the_zipf_table() {
        let a = KeyPicker::new(&KeySpec::Zipf { count: 1000, exponent: 1.1 }, 1);
        let b = a.reseeded(2);
        match (&a.kind, &b.kind) {
            (Kind::Zipf(x), Kind::Zipf(y)) => assert!(Arc::ptr_eq(x, y)),
            _ => panic!("zipf expected"),
        }
        let (mut a, mut c) = (a.reseeded(3), b.reseeded(3));
        assert_eq!(
            (0..50).map(|_| a.next_index()).collect::<Vec<_>>(),
            (0..50).map(|_| c.next_index()).collect::<Vec<_>>()
        );
    }

    fn counts(spec: KeySpec, draws: usize) -> Vec<u64> {
        let mut picker = KeyPicker::new(&spec, 7);
        let n = match spec {
            KeySpec::Uniform { count } | KeySpec::Zipf { count, .. } => count as usize,
            KeySpec::None => 0,
        };
        let mut counts = vec![0u64; n];
        for _ in 0..draws {
            counts[picker.next_index().unwrap() as usize] += 1;
        }
        counts
    }

    #[test]
    fn no_keys() {
        assert_eq!(KeyPicker::new(&KeySpec::None, 1).next_index(), None);
    }

    #[test]
    fn uniform_keys_are_flat() {
        let c = counts(KeySpec::Uniform { count: 10 }, 100_000);
        assert!(c.iter().all(|&n| (9_000..11_000).contains(&n)), "{c:?}");
    }

    #[test]
    fn zipf_follows_its_law() {
        // s = 1 over 100 keys: P(k) = 1 / (k * H(100)), H(100) ~ 5.187.
        let draws = 200_000;
        let c = counts(KeySpec::Zipf { count: 100, exponent: 1.0 }, draws);
        let share = |k: usize| c[k] as f64 / draws as f64;
        assert!((share(0) - 1.0 / 5.187).abs() < 0.01, "hottest key share {}", share(0));
        // Key 1 is half as likely as key 0, key 9 a tenth.
        assert!((share(0) / share(1) - 2.0).abs() < 0.15, "{} / {}", share(0), share(1));
        assert!((share(0) / share(9) - 10.0).abs() < 1.5, "{} / {}", share(0), share(9));
        // Monotone in expectation: the top ten keys take more than half of the records.
        let top10: u64 = c[..10].iter().sum();
        assert!(top10 as f64 / draws as f64 > 0.55, "top ten share {top10}");
    }

    #[test]
    fn higher_exponent_is_more_skewed() {
        let mild = counts(KeySpec::Zipf { count: 1000, exponent: 0.5 }, 50_000);
        let hot = counts(KeySpec::Zipf { count: 1000, exponent: 1.5 }, 50_000);
        assert!(hot[0] > 5 * mild[0], "hot {} mild {}", hot[0], mild[0]);
        assert!(hot.iter().all(|&n| n <= hot[0]));
    }

    #[test]
    fn unit_draws_are_in_range() {
        let mut p = KeyPicker::new(&KeySpec::None, 3);
        assert!((0..10_000).map(|_| p.unit()).all(|u| (0.0..1.0).contains(&u)));
        assert_eq!(key_bytes(42), b"key-42".to_vec());
    }
}
