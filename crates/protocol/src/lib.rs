//! Kafka wire protocol for Weft: framing, request headers, response encoding, the table of supported API
//! versions and record-batch header handling. No I/O lives here; the agent owns sockets.

pub mod batch;
pub mod chunks;
pub mod control;
pub mod fetch_response;
pub mod frame;
pub mod records;
pub mod request;
pub mod response;
pub mod rewrite;
pub mod versions;

pub use batch::{BATCH_HEADER_LEN, BatchError, BatchHeader};
pub use chunks::Chunks;
pub use fetch_response::{FetchReply, encode_fetch_response};
pub use frame::{FrameError, frame_size, next_frame};
pub use request::{RequestError, RequestHeaderInfo, decode_body, decode_request, peek_header};
pub use response::encode_response;
pub use versions::{SUPPORTED_APIS, SupportedApi, supported_range};

/// Re-export of the codec crate, so dependants use exactly the same version.
pub use kafka_protocol;
