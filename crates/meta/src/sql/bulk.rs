//! Statements over many rows at once. A statement is a round trip (to PostgreSQL over the network, to SQLite
//! through sqlx's worker thread), so rewriting a partition's index one row per statement held the writer for
//! about 70 ms per 300 rows and stalled every produce commit behind it; lists of up to [`CHUNK`] values per
//! statement (and the multi-row inserts of `append/index.rs`) keep one rewrite to a handful of statements.

/// Most values in one `IN (...)` list (far below SQLite's 32,766 and PostgreSQL's 65,535 parameters).
pub(super) const CHUNK: usize = 200;

/// `$first, $first+1, ...`: `count` numbered parameters.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 5);
    for i in 0..count {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('$');
        out.push_str(&(first + i).to_string());
    }
    out
}

/// `($first, ..), ($first+columns, ..), ...`: `rows` rows of `columns` numbered parameters each.
pub(super) fn value_rows(first: usize, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&placeholders(first + r * columns, columns));
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(value_rows(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
