//! Index rows as a segment commit or an index rewrite (compaction, merge) writes them, in multi-row `INSERT`s: sqlx's `Any` driver has no array
//! binds, so rows go in chunks of [`ROWS_PER_STATEMENT`], under every backend's bind-parameter limit (SQLite
//! 32766, PostgreSQL 65535). A flush of N batches costs ceil(N / ROWS_PER_STATEMENT) statements here instead
//! of N.

use super::Tx;
use crate::{BatchAppend, BatchRow, Result};

/// Columns per row, in the order of [`COLUMNS`].
const PER_ROW: usize = 9;
/// Rows per statement: 4,500 parameters.
const ROWS_PER_STATEMENT: usize = 500;
const _: () = assert!(ROWS_PER_STATEMENT * PER_ROW < 32766, "over SQLite's bind-parameter limit");
const COLUMNS: &str = "INSERT INTO batches (topic_id, partition_id, record_count, base_offset, last_offset, \
                       max_timestamp, object_key, byte_start, byte_len) VALUES ";

/// One batch's index row (its object is the statement's).
pub(in crate::sql) struct Row {
    topic_id: String,
    partition: i64,
    record_count: i64,
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    byte_start: i64,
    byte_len: i64,
}

impl Row {
    pub(super) fn of(b: &BatchAppend, base_offset: i64, last_offset: i64) -> Row {
        Row {
            topic_id: b.topic_id.to_string(),
            partition: i64::from(b.partition),
            record_count: i64::from(b.record_count),
            base_offset,
            last_offset,
            max_timestamp: b.max_timestamp,
            byte_start: b.byte_start as i64,
            byte_len: i64::from(b.byte_len),
        }
    }

    /// A row an index rewrite adds to a partition.
    pub(in crate::sql) fn rewritten(topic_id: &str, partition: i64, b: &BatchRow) -> Row {
        Row {
            topic_id: topic_id.to_string(),
            partition,
            record_count: i64::from(b.record_count),
            base_offset: b.base_offset,
            last_offset: b.last_offset,
            max_timestamp: b.max_timestamp,
            byte_start: b.byte_start as i64,
            byte_len: i64::from(b.byte_len),
        }
    }
}

/// `($1, ..., $9), ($10, ...)` for `rows` rows.
fn placeholders(rows: usize) -> String {
    format!("{COLUMNS}{}", crate::sql::bulk::value_rows(1, rows, PER_ROW))
}

/// Writes `rows`, all pointing into `object_key`.
pub(in crate::sql) async fn insert(tx: &mut Tx<'_>, object_key: &str, rows: &[Row]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = placeholders(chunk.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for r in chunk {
            query = query
                .bind(r.topic_id.as_str())
                .bind(r.partition)
                .bind(r.record_count)
                .bind(r.base_offset)
                .bind(r.last_offset)
                .bind(r.max_timestamp)
                .bind(object_key)
                .bind(r.byte_start)
                .bind(r.byte_len);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_column_of_every_row() {
        let sql = super::placeholders(2);
        assert!(
            sql.ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10, $11, $12, $13, $14, $15, $16, $17, $18)")
        );
    }
}
