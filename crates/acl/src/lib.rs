//! Kafka's ACL model and its decisions, with no I/O: the codes and names of resource types, pattern types,
//! operations and permissions (`model`), bindings and their validation, the filters that DescribeAcls and
//! DeleteAcls match with (`filter`), and [`Policy`], the in-memory snapshot that answers "may this principal
//! from this host do this to that resource?" as Kafka's `StandardAuthorizer` does (`policy`).
//!
//! The agent keeps a [`Policy`] built from the bindings in the metastore and asks it on every request; the
//! `weft acl` commands use the names and codes. Nothing here knows where bindings are stored.

mod filter;
mod model;
mod policy;

pub use filter::AclFilter;
pub use model::{AclBinding, AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType, WILDCARD};
pub use policy::{Policy, WILDCARD_PRINCIPAL};
