//! Share sessions (KIP-932's ShareSessionCache): per (group, member), the partitions the member fetches from
//! this agent and the epoch its next ShareFetch or ShareAcknowledge must carry. Epoch 0 opens (or replaces)
//! a session, N continues it and moves it to N+1, -1 closes it. Bounded by a count per agent; sessions idle
//! longer than their limit are dropped by the share timer; the records their member holds stay locked until
//! their own deadlines.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

pub type SessionKey = (String, String);
pub type Partitions = BTreeSet<(Uuid, i32)>;

/// Partitions one session may hold (each request adds at most what its frame carries; this bounds the sum).
pub const MAX_SESSION_PARTITIONS: usize = 10_000;

/// Why a session request is refused (Kafka's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("no share session for this member")]
    NotFound,
    #[error("share session epoch {got} is not the expected {expected}")]
    InvalidEpoch { got: i32, expected: i32 },
    #[error("this agent already has its maximum of {max} share sessions")]
    LimitReached { max: usize },
    #[error("a share session may hold at most {max} partitions")]
    TooManyPartitions { max: usize },
}

impl SessionError {
    pub fn code(&self) -> i16 {
        match self {
            SessionError::NotFound => 122,
            SessionError::InvalidEpoch { .. } => 123,
            SessionError::LimitReached { .. } => 133,
            // INVALID_REQUEST: no client sends that many; retrying would not help.
            SessionError::TooManyPartitions { .. } => 42,
        }
    }
}

struct Session {
    next_epoch: i32,
    partitions: Partitions,
    last_used_ms: i64,
}

/// The share sessions of this agent.
pub struct ShareSessions {
    sessions: Mutex<HashMap<SessionKey, Session>>,
    max: usize,
}

impl ShareSessions {
    pub fn new(max: usize) -> Self {
        ShareSessions { sessions: Mutex::new(HashMap::new()), max }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionKey, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Epoch 0: a new session over `partitions`, replacing the member's old one (whose partitions are
    /// returned: the caller releases what the member held on those it no longer fetches).
    pub fn open(&self, key: SessionKey, partitions: Partitions, now_ms: i64) -> Result<Partitions, SessionError> {
        if partitions.len() > MAX_SESSION_PARTITIONS {
            return Err(SessionError::TooManyPartitions { max: MAX_SESSION_PARTITIONS });
        }
        let mut sessions = self.lock();
        if !sessions.contains_key(&key) && sessions.len() >= self.max {
            return Err(SessionError::LimitReached { max: self.max });
        }
        let old = sessions.insert(key, Session { next_epoch: 1, partitions, last_used_ms: now_ms });
        Ok(old.map(|s| s.partitions).unwrap_or_default())
    }

    /// Epoch N > 0: checks it, adds and forgets partitions, moves to N+1; returns the session's partitions.
    pub fn advance(
        &self,
        key: &SessionKey,
        epoch: i32,
        add: &Partitions,
        forget: &Partitions,
        now_ms: i64,
    ) -> Result<Partitions, SessionError> {
        let mut sessions = self.lock();
        let s = sessions.get_mut(key).ok_or(SessionError::NotFound)?;
        if epoch != s.next_epoch {
            return Err(SessionError::InvalidEpoch { got: epoch, expected: s.next_epoch });
        }
        let mut partitions = s.partitions.clone();
        partitions.extend(add.iter().copied());
        partitions.retain(|p| !forget.contains(p));
        if partitions.len() > MAX_SESSION_PARTITIONS {
            return Err(SessionError::TooManyPartitions { max: MAX_SESSION_PARTITIONS });
        }
        s.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
        s.partitions = partitions;
        s.last_used_ms = now_ms;
        Ok(s.partitions.clone())
    }

    /// Epoch -1: closes the session; returns its partitions.
    pub fn close(&self, key: &SessionKey) -> Result<Partitions, SessionError> {
        self.lock().remove(key).map(|s| s.partitions).ok_or(SessionError::NotFound)
    }

    /// Whether `key`'s session is open and fetches from `tp` (a long poll checks before each acquisition).
    pub fn holds(&self, key: &SessionKey, tp: (Uuid, i32)) -> bool {
        self.lock().get(key).is_some_and(|s| s.partitions.contains(&tp))
    }

    /// Drops sessions unused since `now_ms - idle_ms`; returns them with their partitions.
    pub fn expire_idle(&self, now_ms: i64, idle_ms: i64) -> Vec<(SessionKey, Partitions)> {
        let mut sessions = self.lock();
        let idle: Vec<SessionKey> = sessions
            .iter()
            .filter(|(_, s)| s.last_used_ms.saturating_add(idle_ms) <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        idle.into_iter().filter_map(|k| sessions.remove(&k).map(|s| (k, s.partitions))).collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        ("g".into(), "m".into())
    }

    #[test]
    fn epochs_follow_kafkas_rules() {
        let sessions = ShareSessions::new(1);
        let p: Partitions = [(Uuid::from_u128(1), 0)].into();
        let none = Partitions::new();
        assert_eq!(sessions.advance(&key(), 1, &none, &none, 0), Err(SessionError::NotFound));
        sessions.open(key(), p.clone(), 0).unwrap();
        assert_eq!(sessions.advance(&key(), 2, &none, &none, 0).unwrap_err().code(), 123);
        assert_eq!(sessions.advance(&key(), 1, &none, &none, 0), Ok(p.clone()));
        assert_eq!(sessions.advance(&key(), 2, &none, &p, 0), Ok(none.clone()));
        assert_eq!(sessions.open(("g".into(), "other".into()), none.clone(), 0).unwrap_err().code(), 133);
        assert_eq!(sessions.close(&key()), Ok(none));
        assert_eq!(sessions.close(&key()), Err(SessionError::NotFound));
    }

    #[test]
    fn idle_sessions_expire() {
        let sessions = ShareSessions::new(4);
        sessions.open(key(), Partitions::new(), 0).unwrap();
        assert!(sessions.expire_idle(999, 1000).is_empty());
        assert_eq!(sessions.expire_idle(1000, 1000).len(), 1);
        assert_eq!(sessions.len(), 0);
    }
}
