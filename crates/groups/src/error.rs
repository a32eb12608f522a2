//! Why the group coordinator refused a request. The coordinator answers with these typed outcomes; the
//! agent turns them into Kafka error codes in one place (`weft_agent::error`), so this crate knows nothing
//! of the wire's numbers.

/// A refusal of the group coordinator, named after the Kafka error the client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the group id is empty")]
    InvalidGroupId,
    #[error("the session timeout is outside the coordinator's bounds")]
    InvalidSessionTimeout,
    #[error("the member's protocol type or protocols do not match the group's")]
    InconsistentGroupProtocol,
    #[error("a member id was assigned; join again with it")]
    MemberIdRequired,
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    #[error("the member is not part of the group")]
    UnknownMemberId,
    #[error("another member holds the group instance id")]
    FencedInstanceId,
    #[error("the generation is not the group's current one")]
    IllegalGeneration,
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    #[error("this coordinator stopped coordinating the group")]
    NotCoordinator,
    #[error("the group still has members")]
    NonEmptyGroup,
    #[error("the group does not exist or is not a group of this protocol")]
    GroupIdNotFound,
    #[error("the request is malformed")]
    InvalidRequest,
    #[error("the requested server assignor is not supported")]
    UnsupportedAssignor,
    #[error("the member epoch is not the member's current one")]
    FencedMemberEpoch,
    #[error("the member epoch of the offset commit is stale")]
    StaleMemberEpoch,
    #[error("the subscribed topic regex is invalid or too large")]
    InvalidRegularExpression,
    /// The group's store (committed offsets in the metastore) failed; the agent reports it for group APIs.
    #[error("the group's offset store is unavailable")]
    CoordinatorNotAvailable,
}
