//! The writer task: drains the queue into the audit file, a batch at a time, and reopens the file when it
//! was moved away (rotation by rename), so no line goes to a file nobody reads.

use crate::AuditEvent;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Events written per batch at most (one flush per batch).
const BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit log {path}: {source}")]
    Open { path: String, source: std::io::Error },
}

pub(crate) fn open(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuditError::Open { path: path.display().to_string(), source })
}

/// Writes queued events until every sender is gone.
pub(crate) async fn run(path: PathBuf, file: File, mut events: mpsc::Receiver<(i64, AuditEvent)>) {
    let mut file = Some(file);
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let text: String = batch.drain(..).map(|(at, event)| event.to_line(at) + "\n").collect();
        let (path, kept) = (path.clone(), file.take());
        file = tokio::task::spawn_blocking(move || write(&path, kept, text.as_bytes())).await.ok().flatten();
    }
}

/// Appends `text` to the file at `path`, reopening it first if it was moved or never opened. Returns the
/// file to keep; a failure is logged and the batch is lost (counted), the next batch tries again.
fn write(path: &Path, file: Option<File>, text: &[u8]) -> Option<File> {
    let file = match file.filter(|f| still_at(f, path)) {
        Some(f) => f,
        None => match open(path) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "audit events lost");
                metrics::counter!("weft_audit_write_errors_total").increment(1);
                return None;
            }
        },
    };
    let mut file = file;
    if let Err(e) = file.write_all(text).and_then(|()| file.flush()) {
        tracing::error!(path = %path.display(), error = %e, "cannot write the audit log; events lost");
        metrics::counter!("weft_audit_write_errors_total").increment(1);
        return None;
    }
    Some(file)
}

/// Whether `file` is still the file named `path` (not renamed or deleted by log rotation).
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::{AuditEvent, AuditLog, Change, Outcome};
    use std::sync::Arc;
    use weft_clock::Clock;

    struct Fixed;
    impl Clock for Fixed {
        fn now_ms(&self) -> i64 {
            1_000
        }
    }

    fn admin(name: &str) -> AuditEvent {
        AuditEvent::Admin {
            principal: "User:ops".into(),
            client: "10.0.0.1:4000".into(),
            client_id: "ops-tool".into(),
            listener: "PLAINTEXT".into(),
            api: "CreateTopics".into(),
            resource_type: "TOPIC".into(),
            resource_name: name.into(),
            validate_only: false,
            change: Change::CreateTopic { partitions: 1, replication_factor: -1, configs: Vec::new() },
            outcome: Outcome::Success,
            error: None,
        }
    }

    async fn lines_when_written(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= n {
                return text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{} never had {n} lines", path.display());
    }

    #[tokio::test]
    async fn events_are_appended_as_json_lines_and_follow_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (log, task) = AuditLog::to_file(&path, Arc::new(Fixed)).unwrap();
        log.record(admin("a"));
        log.record(admin("b"));
        let lines = lines_when_written(&path, 2).await;
        assert_eq!((lines[0]["resource_name"].as_str(), lines[1]["resource_name"].as_str()), (Some("a"), Some("b")));
        assert_eq!(lines[0]["time_ms"], 1000);
        std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
        log.record(admin("c"));
        let lines = lines_when_written(&path, 1).await;
        assert_eq!(lines[0]["resource_name"], "c", "written to the new file");
        drop(log);
        task.await.unwrap();
    }

    #[test]
    fn an_unwritable_path_is_refused_at_start() {
        let err = AuditLog::to_file(std::path::Path::new("/nonexistent-dir/audit.log"), Arc::new(Fixed));
        assert!(err.unwrap_err().to_string().contains("/nonexistent-dir/audit.log"));
    }
}
