//! The Kafka listener's connection machinery, independent of what the requests mean: framing with bounded
//! memory, the shared budget of request bytes being read ([`RequestBudget`], Kafka's
//! `queued.max.request.bytes`), the idle and stalled-frame timeouts, and the per-connection [`Session`]
//! loop that pipelines requests to a [`Handler`] and writes responses in order. The agent supplies the
//! handler (decode, authorize, route); TLS wraps the socket before [`serve`], and each session carries its
//! listener's [`SecurityProtocol`] so authentication can be required where the protocol says.

mod accept;
mod budget;
mod frame_reader;
mod session;
mod timeouts;
mod write;

pub use accept::AcceptErrors;
pub use budget::{RequestBudget, Reservation};
pub use session::{Completion, Handler, Mute, Session, SessionLimits, serve};
pub use weft_config::SecurityProtocol;
pub use weft_protocol::Chunks;
pub use write::write_chunks;
