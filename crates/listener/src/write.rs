//! Writing one response frame held as chunks, for any transport: vectored writes of a bounded number of
//! chunks at a time (one `writev` on TCP, one TLS write on rustls), resumed where a partial write stopped.
//! A transport that does not write vectored takes the first chunk each call, which is slower but correct.

use std::io::{self, IoSlice};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use weft_protocol::Chunks;

/// Most chunks handed to one vectored write (well under every platform's IOV_MAX).
const MAX_SLICES: usize = 64;

/// Writes every byte of `frame` in order.
pub async fn write_chunks<W: AsyncWrite + Unpin + ?Sized>(wr: &mut W, frame: &Chunks) -> io::Result<()> {
    let parts = frame.parts();
    if let [one] = parts {
        wr.write_all(one).await?;
        // A TLS transport may hold the last encrypted records after accepting the plaintext; nothing else
        // would push them out until the next response.
        return wr.flush().await;
    }
    // The first chunk not yet written whole, and how much of it is written.
    let (mut first, mut written) = (0usize, 0usize);
    while first < parts.len() {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        for (i, part) in parts[first..].iter().take(MAX_SLICES).enumerate() {
            slices[i] = IoSlice::new(if i == 0 { &part[written..] } else { part });
            count = i + 1;
        }
        let mut n = wr.write_vectored(&slices[..count]).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "connection accepted no more response bytes"));
        }
        while n > 0 && first < parts.len() {
            let left = parts[first].len() - written;
            if n >= left {
                n -= left;
                first += 1;
                written = 0;
            } else {
                written += n;
                n = 0;
            }
        }
    }
    wr.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A writer that takes at most `step` bytes per call, vectored or not, and is pending every other call.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        vectored: bool,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let bufs = if self.vectored { bufs } else { &bufs[..bufs.len().min(1)] };
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.step - n);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == self.step {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frame(chunks: usize) -> (Chunks, Vec<u8>) {
        let mut c = Chunks::new();
        let mut all = Vec::new();
        for i in 0..chunks {
            let part: Vec<u8> = (0..(i * 7 % 23 + 1)).map(|j| (i * 31 + j) as u8).collect();
            all.extend_from_slice(&part);
            c.push(Bytes::from(part));
        }
        (c, all)
    }

    #[tokio::test]
    async fn partial_writes_resume_where_they_stopped() {
        for (chunks, step, vectored) in
            [(1, 3, true), (200, 5, true), (200, 1, false), (150, 1000, true), (3, 7, false)]
        {
            let (c, all) = frame(chunks);
            let mut w = Trickle { out: Vec::new(), step, vectored, calls: 0 };
            write_chunks(&mut w, &c).await.unwrap();
            assert_eq!(w.out, all, "{chunks} chunks, {step} bytes a call, vectored {vectored}");
        }
    }

    #[tokio::test]
    async fn a_writer_that_takes_nothing_is_an_error() {
        struct Full;
        impl AsyncWrite for Full {
            fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(0))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let (c, _) = frame(4);
        let err = write_chunks(&mut Full, &c).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
