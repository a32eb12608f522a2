//! The zone a client names in its client.id (`weft_az=<zone>`), so Metadata can give it agents of its own
//! zone. Client ids are free text that other tools also annotate, so the token is found wherever it sits:
//! it must start the id or follow a character that cannot be part of a name, and its value runs until the
//! first character that cannot be part of a zone name (zone names are letters, digits, `-`, `_` and `.`,
//! as AWS, GCP and Azure spell them).

const KEY: &str = "weft_az=";

fn in_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The zone named by `weft_az=<zone>` in `client_id` (the key in any case); the first non-empty one wins.
pub fn client_zone(client_id: &str) -> Option<&str> {
    let lower = client_id.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(KEY) {
        let start = from + found;
        let value_start = start + KEY.len();
        from = value_start;
        // `myweft_az=x` is another key, not this one.
        if client_id[..start].chars().next_back().is_some_and(in_name) {
            continue;
        }
        let rest = &client_id[value_start..];
        let len = rest.find(|c: char| !in_name(c)).unwrap_or(rest.len());
        if len > 0 {
            return Some(&rest[..len]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::client_zone;

    #[test]
    fn the_token_is_found_among_other_text() {
        assert_eq!(client_zone("weft_az=us-east-1a"), Some("us-east-1a"));
        assert_eq!(client_zone("app-7,weft_az=use1-az1,host=x"), Some("use1-az1"));
        assert_eq!(client_zone("app weft_az=eu-west-2b trailing"), Some("eu-west-2b"));
        assert_eq!(client_zone("svc;weft_az=zone_a;v=2"), Some("zone_a"));
        assert_eq!(client_zone("svc|WEFT_AZ=Zone.B|"), Some("Zone.B"));
        assert_eq!(client_zone("rdkafka[weft_az=z1]"), Some("z1"));
    }

    #[test]
    fn absent_empty_or_embedded_tokens_name_no_zone() {
        assert_eq!(client_zone(""), None);
        assert_eq!(client_zone("consumer-1"), None);
        assert_eq!(client_zone("weft_az="), None);
        assert_eq!(client_zone("weft_az=,x"), None);
        assert_eq!(client_zone("myweft_az=z1"), None);
        assert_eq!(client_zone("weft_az"), None);
    }

    #[test]
    fn the_first_non_empty_token_wins() {
        assert_eq!(client_zone("weft_az= weft_az=z2"), Some("z2"));
        assert_eq!(client_zone("weft_az=z1,weft_az=z2"), Some("z1"));
    }

    #[test]
    fn non_ascii_text_around_the_token_is_handled() {
        assert_eq!(client_zone("ünïcödé weft_az=z9 ✓"), Some("z9"));
        assert_eq!(client_zone("é"), None);
    }
}
