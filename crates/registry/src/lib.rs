//! The schema registry: Confluent's Schema Registry REST API served by every agent, its state (schemas, subject
//! versions, settings) in the metastore through [`weft_meta::Schemas`], so agents sharing a metastore serve
//! one registry. Formats (parsing, canonical text, compatibility) come from `weft_schema`; this crate owns
//! the API, the levels and modes, ids and versions.

mod body;
mod error;
pub mod ids;
mod level;
mod registry;
mod routes;

pub use body::{CONTENT_TYPE, MAX_BODY_BYTES};
pub use error::ApiError;
pub use level::{Compatibility, Mode};
pub use registry::{MAX_REFERENCES, Registry};
pub use routes::{confluent_errors, router};
