//! Client quotas as Kafka enforces them (KIP-13, KIP-55, KIP-124): which quota applies to a request
//! (`precedence`, the eight levels from user and client id down to the default client id), the keys and their
//! checks (`keys`), a rate over a sliding window of samples (`window`), and the manager that records what
//! each client does and answers how long it must be throttled (`manager`).
//!
//! With no quota configured the manager records nothing: one atomic load per request.

mod keys;
mod manager;
mod precedence;
mod window;

pub use keys::{KeyError, QuotaKind, check_key, check_value, known_key};
pub use manager::{QuotaManager, Throttle};
pub use precedence::{QuotaTable, Resolved};
pub use window::{RateWindow, SAMPLE_MS, SAMPLES};
