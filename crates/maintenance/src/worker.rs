//! The low-priority thread background jobs run their CPU-heavy steps on (decompressing and recompressing
//! batches, assembling merged objects), so that work never takes a request-serving runtime thread.
//!
//! One dedicated OS thread at nice 19 (Linux: `setpriority` on the thread id), fed by a bounded queue.
//! Nice 19 rather than `SCHED_IDLE`: an idle-class thread may wait indefinitely while the cores are busy
//! (the benchmark keeps both cores busy for minutes), and log compaction must still make progress, while nice
//! 19 keeps a small guaranteed share (weight 15 against 1024) and yields to request threads otherwise; it
//! also needs no privilege. The I/O the jobs issue stays on the runtime and is paced by [`crate::Budget`].

use tokio::sync::{mpsc, oneshot};

/// Jobs queued for the thread at most (one maintenance service submits one at a time).
const QUEUE: usize = 4;
/// The thread's nice value: the lowest priority an unprivileged thread can take.
const NICE: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

/// Where CPU-heavy background steps run.
#[derive(Debug, Clone)]
pub struct Worker {
    queue: Option<mpsc::Sender<Job>>,
}

/// The worker is gone: its thread could not run the job (it panicked).
#[derive(Debug, thiserror::Error)]
#[error("maintenance worker thread failed while running a job")]
pub struct WorkerGone;

impl Worker {
    /// Starts the dedicated low-priority thread; if the thread cannot be started, steps run on tokio's
    /// blocking pool instead (still off the runtime threads, at normal priority).
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let spawned = std::thread::Builder::new().name("weft-maintenance".into()).spawn(move || {
            lower_priority();
            while let Some(job) = rx.blocking_recv() {
                // A panicking job fails its own caller (its reply is dropped), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        });
        match spawned {
            Ok(_) => Worker { queue: Some(tx) },
            Err(e) => {
                tracing::warn!(error = %e, "maintenance worker thread not started; using the blocking pool");
                Worker::blocking_pool()
            }
        }
    }

    /// Steps run on tokio's blocking pool (for direct calls of one job, as in tests).
    pub fn blocking_pool() -> Self {
        Worker { queue: None }
    }

    /// Runs `f` on the worker and returns its result.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, WorkerGone> {
        let Some(queue) = &self.queue else {
            return tokio::task::spawn_blocking(f).await.map_err(|_| WorkerGone);
        };
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(f());
        });
        queue.send(job).await.map_err(|_| WorkerGone)?;
        result.await.map_err(|_| WorkerGone)
    }
}

/// Lowers the calling thread to nice [`NICE`]; a failure only costs priority, so it is logged.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared with them.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICE) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "maintenance worker keeps normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_a_low_priority_thread() {
        let w = Worker::start();
        let (name, nice) = w
            .run(|| {
                // SAFETY: reads the calling thread's own priority.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
                (std::thread::current().name().map(str::to_string), nice)
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("weft-maintenance"));
        assert_eq!(nice, NICE);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let w = Worker::start();
        assert!(w.run(|| panic!("boom")).await.is_err());
        assert_eq!(w.run(|| 2 + 2).await.unwrap(), 4);
        assert_eq!(Worker::blocking_pool().run(|| 5).await.unwrap(), 5);
    }
}
