//! The change feed on SQL. On PostgreSQL a segment commit sends `pg_notify` on [`CHANNEL`] inside its own
//! transaction (PostgreSQL delivers it only if, and when, the commit lands), and each subscriber holds one
//! `LISTEN` connection of its own, re-established after any loss with a [`Change::Resync`]. SQLite has one
//! writer process, whose own commits already reach its watches: it yields no feed.
//!
//! Payload: one line per partition, `topic_id partition log_start next_offset last_stable`, at most
//! [`LINES_PER_NOTIFY`] lines per notification (PostgreSQL caps a payload at 8000 bytes).

use super::{Backend, SqlMetastore};
use crate::{Change, PartitionOffsets, Result};
use sqlx::postgres::{PgListener, PgPoolOptions};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

const CHANNEL: &str = "weft_changes";
/// About 75 bytes a line: well under the 8000-byte payload limit.
const LINES_PER_NOTIFY: usize = 64;
/// Events a subscriber may have unread before it is told to resync instead.
const QUEUE: usize = 1024;
/// Silence after which the listening connection is checked with a query.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// Pause before connecting again after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Announces the bounds a commit leaves its partitions with (PostgreSQL; nothing on SQLite).
pub(super) async fn notify(
    tx: &mut Tx<'_>,
    backend: Backend,
    partitions: &[(Uuid, i32, PartitionOffsets)],
) -> Result<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    for chunk in partitions.chunks(LINES_PER_NOTIFY) {
        let payload: Vec<String> = chunk
            .iter()
            .map(|(t, p, o)| format!("{t} {p} {} {} {}", o.log_start, o.next_offset, o.last_stable))
            .collect();
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload.join("\n")).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The changes in one payload; malformed lines are skipped (and logged).
fn parse(payload: &str) -> Vec<Change> {
    let mut out = Vec::new();
    for line in payload.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let parsed = match f.as_slice() {
            [t, p, s, n, l] => (|| {
                Some(Change::Offsets {
                    topic_id: Uuid::parse_str(t).ok()?,
                    partition: p.parse().ok()?,
                    offsets: PartitionOffsets {
                        log_start: s.parse().ok()?,
                        next_offset: n.parse().ok()?,
                        last_stable: l.parse().ok()?,
                    },
                })
            })(),
            _ => None,
        };
        match parsed {
            Some(c) => out.push(c),
            None => tracing::warn!(line, "malformed metastore change notification"),
        }
    }
    out
}

/// Delivers to a bounded queue; a reader that falls behind is sent `Resync` once there is room again.
struct Sender {
    tx: mpsc::Sender<Change>,
    lagged: bool,
}

impl Sender {
    /// `false` once the receiver is gone.
    fn send(&mut self, change: Change) -> bool {
        if self.lagged {
            match self.tx.try_send(Change::Resync) {
                Ok(()) => self.lagged = false,
                Err(mpsc::error::TrySendError::Full(_)) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        match self.tx.try_send(change) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged = true;
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Listens until the receiver is dropped, reconnecting after every loss.
async fn listen(url: String, tx: mpsc::Sender<Change>) {
    let mut out = Sender { tx, lagged: false };
    while !out.tx.is_closed() {
        match listen_once(&url, &mut out).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "metastore change feed lost; reconnecting"),
        }
        tokio::select! {
            _ = out.tx.closed() => return,
            _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
        }
    }
}

/// One connection's worth of listening: `Ok` when the receiver is gone, `Err` when the connection is.
async fn listen_once(url: &str, out: &mut Sender) -> std::result::Result<(), sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(1).acquire_timeout(CONNECT_TIMEOUT).connect_lazy(url)?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    // Anything committed before LISTEN took effect is only in the metastore.
    if !out.send(Change::Resync) {
        return Ok(());
    }
    loop {
        let next = tokio::select! {
            _ = out.tx.closed() => return Ok(()),
            next = tokio::time::timeout(IDLE_CHECK, listener.try_recv()) => next,
        };
        match next {
            Ok(Ok(Some(n))) => {
                for change in parse(n.payload()) {
                    if !out.send(change) {
                        return Ok(());
                    }
                }
            }
            Ok(Ok(None)) => return Err(sqlx::Error::Protocol("listening connection closed".into())),
            Ok(Err(e)) => return Err(e),
            Err(_idle) => {
                tokio::time::timeout(CONNECT_TIMEOUT, sqlx::query("SELECT 1").execute(&mut listener))
                    .await
                    .map_err(|_| sqlx::Error::Protocol("listening connection does not answer".into()))??;
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::Changes for SqlMetastore {
    async fn changes(&self) -> Result<Option<mpsc::Receiver<Change>>> {
        let Some(url) = &self.listen_url else { return Ok(None) };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(listen(url.clone(), tx));
        Ok(Some(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_bad_lines_are_skipped() {
        let t = Uuid::new_v4();
        let payload = format!("{t} 3 1 10 8\nnonsense\n{t} x 1 2 3");
        let offsets = PartitionOffsets { log_start: 1, next_offset: 10, last_stable: 8 };
        assert_eq!(parse(&payload), vec![Change::Offsets { topic_id: t, partition: 3, offsets }]);
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_is_told_to_resync() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut s = Sender { tx, lagged: false };
        let offsets = PartitionOffsets { log_start: 0, next_offset: 1, last_stable: 1 };
        let c = Change::Offsets { topic_id: Uuid::nil(), partition: 0, offsets };
        assert!(s.send(c) && s.send(c) && s.send(c), "a full queue is not an error");
        assert_eq!((rx.recv().await, rx.recv().await), (Some(c), Some(c)));
        assert!(s.send(c));
        assert_eq!((rx.recv().await, rx.recv().await), (Some(Change::Resync), Some(c)));
        drop(rx);
        assert!(!s.send(c));
    }
}
