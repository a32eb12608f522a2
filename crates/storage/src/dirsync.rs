//! Group commit of directory fsyncs: one directory fsync makes durable every entry linked into that
//! directory before the fsync started, so writers that link files into the same directory concurrently
//! (overlapping flush uploads, merges) share one fsync instead of paying one each.
//!
//! The rule, per directory: a writer whose file is in place notes the sync generation that will start next;
//! it returns once a sync of that generation or a later one has finished (every such sync began after its
//! file was linked). While a sync runs, newcomers wait for it to end and then one of them starts the next,
//! covering all of them. A failed sync fails every writer it would have covered (the directory's state is
//! then unknown); a later successful sync still covers writers that arrive after it began.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Fsyncs one path (a directory); injectable so tests can count and delay syncs.
pub(crate) type SyncFn = Arc<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

/// Directories tracked at most before idle ones are forgotten (Weft writes into two).
const MAX_IDLE_DIRS: usize = 64;

/// Shares directory fsyncs between concurrent writers.
pub(crate) struct DirSyncs {
    dirs: Mutex<HashMap<PathBuf, Arc<Dir>>>,
    sync: SyncFn,
    grouped: bool,
}

impl std::fmt::Debug for DirSyncs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirSyncs").field("grouped", &self.grouped).finish_non_exhaustive()
    }
}

/// One directory's sync generations.
struct Dir {
    /// Generation of the last sync started, and whether one is running.
    started: Mutex<(u64, bool)>,
    /// The last sync finished: its generation and its error, if it failed.
    done: watch::Sender<Done>,
}

#[derive(Clone, Default)]
struct Done {
    generation: u64,
    error: Option<Arc<io::Error>>,
}

impl DirSyncs {
    /// Directory syncs grouped as described in the module docs.
    pub(crate) fn grouped(sync: SyncFn) -> Self {
        DirSyncs { dirs: Mutex::new(HashMap::new()), sync, grouped: true }
    }

    /// One fsync per call, as before grouping (kept to measure the difference).
    #[cfg(test)]
    pub(crate) fn ungrouped(sync: SyncFn) -> Self {
        DirSyncs { dirs: Mutex::new(HashMap::new()), sync, grouped: false }
    }

    /// Returns once `dir` was fsync'd by a sync that started after this call began (the caller's file
    /// is already linked into it).
    pub(crate) async fn sync(&self, dir: &Path) -> io::Result<()> {
        if !self.grouped {
            let (sync, path) = (self.sync.clone(), dir.to_path_buf());
            return tokio::task::spawn_blocking(move || sync(&path)).await.map_err(io::Error::other)?;
        }
        let state = self.dir(dir);
        let mut done = state.done.subscribe();
        let need = lock(&state.started).0 + 1;
        loop {
            {
                let last = done.borrow_and_update();
                if last.generation >= need {
                    return match &last.error {
                        None => Ok(()),
                        Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
                    };
                }
            }
            self.lead(&state, dir);
            if done.changed().await.is_err() {
                return Err(io::Error::other("directory sync state dropped"));
            }
        }
    }

    /// Starts the next sync of `dir` unless one is running. The sync runs on the blocking pool and
    /// publishes its outcome itself, so a caller that stops waiting never leaves the directory stuck.
    fn lead(&self, state: &Arc<Dir>, dir: &Path) {
        let generation = {
            let mut started = lock(&state.started);
            if started.1 {
                return;
            }
            started.0 += 1;
            started.1 = true;
            started.0
        };
        let (sync, path, state) = (self.sync.clone(), dir.to_path_buf(), state.clone());
        tokio::task::spawn_blocking(move || {
            // A panicking sync still publishes (as a failure), or every later writer of the directory would
            // wait for ever behind a sync marked running.
            let error = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sync(&path))) {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(Arc::new(e)),
                Err(_) => Some(Arc::new(io::Error::other("directory sync panicked"))),
            };
            // Published under the lock that starts the next sync, so outcomes arrive in generation order.
            let mut started = lock(&state.started);
            started.1 = false;
            state.done.send_if_modified(|done| {
                let newer = generation > done.generation;
                if newer {
                    *done = Done { generation, error };
                }
                newer
            });
            drop(started);
        });
    }

    fn dir(&self, dir: &Path) -> Arc<Dir> {
        let mut dirs = lock(&self.dirs);
        if dirs.len() >= MAX_IDLE_DIRS && !dirs.contains_key(dir) {
            dirs.retain(|_, d| Arc::strong_count(d) > 1);
        }
        let new = || Arc::new(Dir { started: Mutex::new((0, false)), done: watch::Sender::new(Done::default()) });
        dirs.entry(dir.to_path_buf()).or_insert_with(new).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A fake fsync that logs when each sync started and ended on one event clock.
    #[derive(Default)]
    struct Log {
        clock: AtomicU64,
        syncs: Mutex<Vec<(u64, u64)>>,
        fail: std::sync::atomic::AtomicBool,
    }

    impl Log {
        fn tick(&self) -> u64 {
            self.clock.fetch_add(1, Ordering::SeqCst)
        }
        fn sync_fn(self: &Arc<Self>) -> SyncFn {
            let log = self.clone();
            Arc::new(move |_| {
                let start = log.tick();
                std::thread::sleep(Duration::from_millis(5));
                let end = log.tick();
                lock(&log.syncs).push((start, end));
                if log.fail.load(Ordering::SeqCst) { Err(io::Error::other("disk gone")) } else { Ok(()) }
            })
        }
    }

    async fn writers(syncs: Arc<DirSyncs>, log: Arc<Log>, n: usize) -> Vec<(u64, u64)> {
        let mut tasks = Vec::new();
        for i in 0..n {
            let (syncs, log) = (syncs.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis((i % 7) as u64)).await;
                let linked = log.tick();
                syncs.sync(Path::new("/d")).await.unwrap();
                (linked, log.tick())
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_writer_returns_before_a_sync_that_began_after_its_link() {
        let log = Arc::new(Log::default());
        let syncs = Arc::new(DirSyncs::grouped(log.sync_fn()));
        let done = writers(syncs, log.clone(), 40).await;
        let ran = lock(&log.syncs).clone();
        for (linked, returned) in &done {
            assert!(
                ran.iter().any(|(start, end)| start > linked && end < returned),
                "writer linked at {linked} returned at {returned} without a covering sync in {ran:?}"
            );
        }
        // Overlapping writers share syncs: fewer fsyncs than writers.
        assert!(ran.len() < done.len(), "{} syncs for {} writers", ran.len(), done.len());
        // And never two at once in one directory.
        let mut sorted = ran.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0].1 < w[1].0), "overlapping syncs {sorted:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn ungrouped_syncs_once_per_writer() {
        let log = Arc::new(Log::default());
        let syncs = Arc::new(DirSyncs::ungrouped(log.sync_fn()));
        writers(syncs, log.clone(), 10).await;
        assert_eq!(lock(&log.syncs).len(), 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sync_fails_its_writers_and_a_later_one_recovers() {
        let log = Arc::new(Log::default());
        let syncs = DirSyncs::grouped(log.sync_fn());
        log.fail.store(true, Ordering::SeqCst);
        let err = syncs.sync(Path::new("/d")).await.unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        log.fail.store(false, Ordering::SeqCst);
        syncs.sync(Path::new("/d")).await.unwrap();
        assert_eq!(lock(&log.syncs).len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_sync_fails_its_writers_and_does_not_wedge_the_directory() {
        let calls = Arc::new(AtomicU64::new(0));
        let counted = calls.clone();
        let syncs = DirSyncs::grouped(Arc::new(move |_| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("fsync blew up");
            }
            Ok(())
        }));
        let first = syncs.sync(Path::new("/d")).await.unwrap_err();
        assert!(first.to_string().contains("panicked"), "{first}");
        tokio::time::timeout(Duration::from_secs(5), syncs.sync(Path::new("/d")))
            .await
            .expect("a later writer is not stuck behind the panicked sync")
            .unwrap();
    }

    #[tokio::test]
    async fn idle_directories_are_forgotten() {
        let syncs = DirSyncs::grouped(Arc::new(|_: &Path| Ok(())));
        for i in 0..200 {
            syncs.sync(&PathBuf::from(format!("/d{i}"))).await.unwrap();
        }
        assert!(lock(&syncs.dirs).len() <= MAX_IDLE_DIRS);
    }
}
