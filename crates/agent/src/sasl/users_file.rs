//! The SASL/PLAIN users file (`--sasl-plain-users-file`): one `name:password` per line, the password being
//! the rest of the line after the first `:`; blank lines and lines starting with `#` are skipped. Names are
//! the user names clients send (the principal is `User:<name>`).

use std::collections::HashMap;

/// Why the users file was refused.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    #[error("cannot read sasl plain users file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("sasl plain users file {path} line {line}: expected name:password")]
    Line { path: String, line: usize },
    #[error("sasl plain users file {path} line {line}: user {name:?} is listed twice")]
    Duplicate { path: String, line: usize, name: String },
}

/// Reads the users file at `path`.
pub fn read(path: &str) -> Result<HashMap<String, String>, UsersFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsersFileError::Read { path: path.into(), source })?;
    parse(&text, path)
}

fn parse(text: &str, path: &str) -> Result<HashMap<String, String>, UsersFileError> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let bad = || UsersFileError::Line { path: path.into(), line: i + 1 };
        let (name, password) = line.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty() || password.is_empty() {
            return Err(bad());
        }
        if users.insert(name.to_string(), password.to_string()).is_some() {
            return Err(UsersFileError::Duplicate { path: path.into(), line: i + 1, name: name.into() });
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_errors() {
        let users = parse("# admins\nalice:s3cr:et\n\n  bob :pw\r\n", "f").unwrap();
        assert_eq!(users.get("alice").map(String::as_str), Some("s3cr:et"), "the password is the rest of the line");
        assert_eq!(users.get("bob").map(String::as_str), Some("pw"));
        assert!(matches!(parse("alice\n", "f"), Err(UsersFileError::Line { line: 1, .. })));
        assert!(matches!(parse("x:1\n:pw\n", "f"), Err(UsersFileError::Line { line: 2, .. })));
        assert!(matches!(parse("a:\n", "f"), Err(UsersFileError::Line { line: 1, .. })));
        assert!(matches!(parse("a:1\na:2\n", "f"), Err(UsersFileError::Duplicate { line: 2, .. })));
        assert!(read("/nonexistent/weft-users").is_err());
    }
}
