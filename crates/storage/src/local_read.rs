//! Reads of a local directory store without zero-filling. object_store's local backend answers a get with
//! the open file and reads it (in `GetResult::bytes`) into a buffer it first fills with zeros: a profile of
//! a consumer reading segments that had left the cache put 12% of the agent's CPU in that `memset`, beside
//! 24% in the read itself (BENCHMARKS.md). Here the read goes into uninitialised capacity instead
//! (`Read::read_to_end`, which `File` serves through `read_buf`), once, on the blocking pool, and the result
//! carries the bytes as a single chunk (so collecting it copies nothing).

use crate::error::generic;
use bytes::Bytes;
use object_store::{GetResult, GetResultPayload, Result};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

/// `result` with a local file payload read into memory (as the retry layer's `body::buffer` would read it
/// anyway, whole); any other payload as is.
pub(crate) async fn buffered(result: GetResult) -> Result<GetResult> {
    let GetResult { payload, meta, range, attributes, extensions } = result;
    let payload = match payload {
        GetResultPayload::File(file, path) => {
            let span = range.clone();
            let read = tokio::task::spawn_blocking(move || read_range(file, &path, span))
                .await
                .map_err(|e| generic("local", e))?
                .map_err(|e| generic("local", e))?;
            GetResultPayload::Stream(Box::pin(futures::stream::once(async move { Ok(read) })))
        }
        other => other,
    };
    Ok(GetResult { payload, meta, range, attributes, extensions })
}

/// Reads exactly `range` of `file`; a file shorter than the range is an error.
fn read_range(mut file: std::fs::File, path: &std::path::Path, range: Range<u64>) -> std::io::Result<Bytes> {
    let len = range.end.saturating_sub(range.start);
    let mut buf = Vec::with_capacity(usize::try_from(len).map_err(std::io::Error::other)?);
    file.seek(SeekFrom::Start(range.start))?;
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{} holds {} bytes from offset {}, not the {len} asked", path.display(), buf.len(), range.start),
        ));
    }
    Ok(buf.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exactly_the_range_and_refuses_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let open = || std::fs::File::open(&path).unwrap();
        assert_eq!(&read_range(open(), &path, 6..11).unwrap()[..], b"world");
        assert_eq!(&read_range(open(), &path, 0..0).unwrap()[..], b"");
        let err = read_range(open(), &path, 6..20).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("holds 5 bytes from offset 6, not the 14 asked"), "{err}");
    }
}
