//! Plain counts of what happened to a share partition's records, for the metrics exporter to report (it
//! diffs successive reads), and a summary of what is in flight now.

/// Records counted since the partition was created or loaded; each only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records handed to a member (first deliveries and redeliveries).
    pub acquired: u64,
    /// Of those, records delivered before (delivery count above one).
    pub redelivered: u64,
    /// Records acknowledged with ACCEPT.
    pub acknowledged: u64,
    /// Records released: acknowledged with RELEASE, or held by a member that left.
    pub released: u64,
    /// Records acknowledged with REJECT.
    pub rejected: u64,
    /// Records archived for any reason: rejected, past the delivery count limit, below a moved log start.
    pub archived: u64,
    /// Records whose acquisition lock expired.
    pub lock_timeouts: u64,
}

/// How many offsets between the start and end offsets are in each state now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InFlight {
    pub available: i64,
    pub acquired: i64,
    pub acknowledged: i64,
    pub archived: i64,
}
