//! The state of an in-flight record (KIP-932): available, acquired by one member until a deadline,
//! acknowledged, or archived. Acknowledged and archived are terminal.

/// One record's (or one run of records') state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordState {
    /// May be acquired by any member.
    Available,
    /// Locked to `member` until `deadline_ms`, then available again (or archived past the delivery limit).
    /// The id is shared by every run one acquisition creates, not copied per run.
    Acquired { member: std::sync::Arc<str>, deadline_ms: i64 },
    /// Accepted by a consumer: never delivered again.
    Acknowledged,
    /// Rejected, past the delivery count limit, a gap without a record, or below the log start.
    Archived,
}

impl RecordState {
    /// Acknowledged or archived: the record will never be delivered again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, RecordState::Acknowledged | RecordState::Archived)
    }

    /// Kafka's record state id as persisted: 0 available, 2 acknowledged, 4 archived; an acquired record is
    /// persisted as available (a crash releases it, its delivery count kept).
    pub fn persisted_id(&self) -> i8 {
        match self {
            RecordState::Available | RecordState::Acquired { .. } => 0,
            RecordState::Acknowledged => 2,
            RecordState::Archived => 4,
        }
    }

    /// The state a persisted id stands for; `None` for an id that is never persisted.
    pub fn from_persisted_id(id: i8) -> Option<Self> {
        match id {
            0 => Some(RecordState::Available),
            2 => Some(RecordState::Acknowledged),
            4 => Some(RecordState::Archived),
            _ => None,
        }
    }
}
