//! Reading a get's body into memory inside a layer.
//!
//! Weft always reads whole objects or whole ranges into memory, so the layers that need the body (the
//! retry layer, to retry a read that fails half way; the metrics layer, to count its bytes and time the
//! whole read) buffer it here and hand a one-chunk body up the stack.

use bytes::Bytes;
use futures::StreamExt;
use object_store::{GetResult, GetResultPayload, Result};

/// Reads the body of `result` and returns the same result with the body in memory, and its bytes.
pub(crate) async fn buffer(result: GetResult) -> Result<(GetResult, Bytes)> {
    let GetResult { meta, range, attributes, extensions, .. } = &result;
    let (meta, range, attributes, extensions) = (meta.clone(), range.clone(), attributes.clone(), extensions.clone());
    let data = result.bytes().await?;
    let body = data.clone();
    let payload = GetResultPayload::Stream(futures::stream::once(async move { Ok(body) }).boxed());
    Ok((GetResult { payload, meta, range, attributes, extensions }, data))
}
