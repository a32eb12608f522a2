//! In-flight offsets as runs: a run is a range of offsets sharing one state and delivery count, keyed by its
//! first offset. Runs are split only where a change starts or ends and joined again with equal neighbours, so
//! their number is bounded by the offsets in flight, not by how often records change.

use crate::RecordState;
use std::collections::BTreeMap;

/// Offsets `first..=last` (the key holds `first`) in one state, each delivered `delivery_count` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub last: i64,
    pub state: RecordState,
    pub delivery_count: i16,
}

/// Disjoint runs ordered by first offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Runs {
    map: BTreeMap<i64, Run>,
}

impl Runs {
    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn first(&self) -> Option<(i64, &Run)> {
        self.map.first_key_value().map(|(k, r)| (*k, r))
    }

    pub fn pop_first(&mut self) -> Option<(i64, Run)> {
        self.map.pop_first()
    }

    pub fn iter(&self) -> impl Iterator<Item = (i64, &Run)> {
        self.map.iter().map(|(k, r)| (*k, r))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (i64, &mut Run)> {
        self.map.iter_mut().map(|(k, r)| (*k, r))
    }

    /// Adds a run; the caller keeps runs disjoint.
    pub fn insert(&mut self, first: i64, run: Run) {
        debug_assert!(first <= run.last);
        self.map.insert(first, run);
    }

    pub fn get_mut(&mut self, first: i64) -> Option<&mut Run> {
        self.map.get_mut(&first)
    }

    /// Runs that hold any of `first..=last`, unsplit.
    pub fn overlapping(&self, first: i64, last: i64) -> impl Iterator<Item = (i64, &Run)> {
        let head = self.map.range(..first).next_back().filter(|(_, r)| r.last >= first);
        let rest = self.map.range(first..).take_while(move |(k, _)| **k <= last);
        head.into_iter().chain(rest).map(|(k, r)| (*k, r))
    }

    /// Makes a run begin at `offset` if a run holds it past its first offset.
    pub fn split_at(&mut self, offset: i64) {
        let Some((&first, run)) = self.map.range_mut(..offset).next_back() else { return };
        if run.last < offset {
            return;
        }
        let tail = Run { last: run.last, state: run.state.clone(), delivery_count: run.delivery_count };
        run.last = offset - 1;
        debug_assert!(first <= run.last);
        self.map.insert(offset, tail);
    }

    /// Splits runs so that each one holding any of `first..=last` lies within it; returns their first offsets.
    pub fn isolate(&mut self, first: i64, last: i64) -> Vec<i64> {
        self.split_at(first);
        if let Some(after) = last.checked_add(1) {
            self.split_at(after);
        }
        self.map.range(first..=last).map(|(k, _)| *k).collect()
    }

    /// Joins adjacent runs of equal state and delivery count among those holding `lo..=hi` and their
    /// immediate neighbours.
    pub fn coalesce(&mut self, lo: i64, hi: i64) {
        let from = self.map.range(..lo).next_back().map_or(lo, |(k, _)| *k);
        let to = self.map.range(hi.saturating_add(1)..).next().map_or(hi, |(k, _)| *k);
        let keys: Vec<i64> = self.map.range(from..=to).map(|(k, _)| *k).collect();
        let mut current: Option<i64> = None;
        for key in keys {
            if let Some(cur) = current
                && let Some(next) = self.map.get(&key)
                && let Some(run) = self.map.get(&cur)
                && run.last.checked_add(1) == Some(key)
                && run.state == next.state
                && run.delivery_count == next.delivery_count
            {
                let last = next.last;
                self.map.remove(&key);
                if let Some(run) = self.map.get_mut(&cur) {
                    run.last = last;
                }
                continue;
            }
            current = Some(key);
        }
    }

    /// Removes and returns every run (or part of one) below `offset`.
    pub fn remove_below(&mut self, offset: i64) -> Vec<(i64, Run)> {
        self.split_at(offset);
        let kept = self.map.split_off(&offset);
        std::mem::replace(&mut self.map, kept).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(last: i64, count: i16) -> Run {
        Run { last, state: RecordState::Available, delivery_count: count }
    }

    #[test]
    fn split_isolate_and_coalesce() {
        let mut runs = Runs::default();
        runs.insert(0, run(9, 1));
        assert_eq!(runs.isolate(3, 5), vec![3]);
        assert_eq!(runs.iter().map(|(k, r)| (k, r.last)).collect::<Vec<_>>(), vec![(0, 2), (3, 5), (6, 9)]);
        runs.get_mut(3).unwrap().delivery_count = 2;
        runs.coalesce(3, 5);
        assert_eq!(runs.len(), 3, "different counts stay apart");
        runs.get_mut(3).unwrap().delivery_count = 1;
        runs.coalesce(3, 5);
        assert_eq!(runs.iter().map(|(k, r)| (k, r.last)).collect::<Vec<_>>(), vec![(0, 9)]);
        let overlapping: Vec<i64> = runs.overlapping(4, 4).map(|(k, _)| k).collect();
        assert_eq!(overlapping, vec![0]);
        let removed = runs.remove_below(4);
        assert_eq!(removed.iter().map(|(k, r)| (*k, r.last)).collect::<Vec<_>>(), vec![(0, 3)]);
        assert_eq!(runs.first().map(|(k, r)| (k, r.last)), Some((4, 9)));
    }
}
