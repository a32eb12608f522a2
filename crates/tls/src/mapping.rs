//! Kafka's `ssl.principal.mapping.rules`: how a client certificate's subject DN becomes a user name.
//!
//! The rules are a comma-separated list of `DEFAULT` (the DN itself) and `RULE:pattern/replacement/` with
//! an optional `L` or `U` after the last slash (lower or upper case the result). `\` escapes a character in
//! a pattern or replacement (so `\/` is a slash and `\,` a comma), and a rule's pattern may hold commas.
//! The first rule whose pattern matches the whole DN gives the name: every match of the pattern is replaced
//! with the replacement, where `$n` is group n (a `$n` naming a group the pattern does not have is kept
//! literally, as Kafka does). When no rule applies, the client is refused, as in Kafka.
//!
//! Patterns are Rust `regex` syntax, which is Java's for the constructs these rules use (groups, classes,
//! lazy quantifiers, anchors); a pattern with Java-only constructs (look-around, back-references) is refused
//! at start with the reason.

use regex::{Captures, Regex};

/// A rule list that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("invalid ssl.principal.mapping.rules rule {rule:?}")]
    Invalid { rule: String },
    #[error("invalid ssl.principal.mapping.rules rule {rule:?}, unmatched substring {rest:?}")]
    Unmatched { rule: String, rest: String },
    #[error("invalid pattern in ssl.principal.mapping.rules rule {rule:?}: {source}")]
    Pattern {
        rule: String,
        #[source]
        source: Box<regex::Error>,
    },
}

/// How the result of a rule is cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace { whole: Regex, any: Regex, source: String, replacement: String, case: Case },
}

/// The syntax of one rule, as Kafka's mapper reads it.
const RULE: &str = r"(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)";

/// The parsed rules, applied in order.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

impl PrincipalMapper {
    /// Parses a rule list (empty entries are ignored; an empty list maps nothing).
    pub fn parse(rules: &str) -> Result<PrincipalMapper, RulesError> {
        let splitter = Regex::new(&format!(r"\s*({RULE})\s*(?:,\s*|$)")).map_err(internal)?;
        let parser = Regex::new(&format!("^(?:{RULE})")).map_err(internal)?;
        let mut parsed = Vec::new();
        let text = rules.trim();
        let mut at = 0;
        while at <= text.len() {
            let Some(found) = splitter.captures_at(text, at) else { break };
            let whole = found.get(0).map_or(at..at, |m| m.range());
            let rule = found.get(1).map_or("", |m| m.as_str());
            at = if whole.is_empty() { whole.end + 1 } else { whole.end };
            if let Some(rule) = parse_rule(&parser, rule)? {
                parsed.push(rule);
            }
        }
        Ok(PrincipalMapper { rules: parsed })
    }

    /// The user name of a certificate subject, or `None` when no rule applies.
    pub fn name(&self, dn: &str) -> Option<String> {
        self.rules.iter().find_map(|rule| match rule {
            Rule::Default => Some(dn.to_string()),
            Rule::Replace { whole, any, replacement, case, .. } => {
                if !whole.is_match(dn) {
                    return None;
                }
                let out = any.replace_all(dn, |c: &Captures<'_>| expand(replacement, c)).into_owned();
                Some(match case {
                    Case::Keep => out,
                    Case::Lower => out.to_lowercase(),
                    Case::Upper => out.to_uppercase(),
                })
            }
        })
    }

    /// The rules as Kafka prints them (`[RULE:pattern/replacement/L, DEFAULT]`).
    pub fn describe(&self) -> String {
        let each = self.rules.iter().map(|r| match r {
            Rule::Default => "DEFAULT".to_string(),
            Rule::Replace { source, replacement, case, .. } => {
                let case = match case {
                    Case::Keep => "",
                    Case::Lower => "/L",
                    Case::Upper => "/U",
                };
                format!("RULE:{source}/{replacement}{case}")
            }
        });
        format!("[{}]", each.collect::<Vec<_>>().join(", "))
    }
}

fn internal(e: regex::Error) -> RulesError {
    RulesError::Pattern { rule: "(the rule syntax)".into(), source: Box::new(e) }
}

/// One split-off rule; `None` for an empty entry.
fn parse_rule(parser: &Regex, rule: &str) -> Result<Option<Rule>, RulesError> {
    let c = parser.captures(rule).ok_or_else(|| RulesError::Invalid { rule: rule.to_string() })?;
    let end = c.get(0).map_or(0, |m| m.end());
    if end != rule.len() {
        return Err(RulesError::Unmatched { rule: rule.to_string(), rest: rule[end..].to_string() });
    }
    if c.get(1).is_some() {
        return Ok(Some(Rule::Default));
    }
    let Some(pattern) = c.get(2) else { return Ok(None) };
    let source = pattern.as_str().to_string();
    let replacement = c.get(3).map_or("", |m| m.as_str()).to_string();
    let case = match c.get(4).map(|m| m.as_str()) {
        Some("L") => Case::Lower,
        Some("U") => Case::Upper,
        _ => Case::Keep,
    };
    let compile =
        |p: &str| Regex::new(p).map_err(|e| RulesError::Pattern { rule: rule.to_string(), source: Box::new(e) });
    let whole = compile(&format!("^(?:{source})$"))?;
    let any = compile(&source)?;
    Ok(Some(Rule::Replace { whole, any, source, replacement, case }))
}

/// Java's replacement syntax: `\x` is x, `$n` is group n taking as many digits as name a group, and a `$n`
/// whose first digit names no group is literal text (Kafka escapes such references).
fn expand(replacement: &str, caps: &Captures<'_>) -> String {
    let groups = caps.len() - 1;
    let bytes: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '\\' if i + 1 < bytes.len() => {
                out.push(bytes[i + 1]);
                i += 2;
            }
            '$' if bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let mut j = i + 1;
                let mut group = 0usize;
                while let Some(d) = bytes.get(j).and_then(|c| c.to_digit(10)) {
                    let next = group * 10 + d as usize;
                    if j > i + 1 && next > groups {
                        break;
                    }
                    group = next;
                    j += 1;
                }
                if group > groups {
                    out.push('$');
                    i += 1;
                    continue;
                }
                out.push_str(caps.get(group).map_or("", |m| m.as_str()));
                i = j;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> String {
        PrincipalMapper::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).describe()
    }

    #[test]
    fn kafka_documented_valid_rules_parse() {
        for r in [
            "DEFAULT",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
            "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
            "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
            "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
            "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
            "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
        ] {
            PrincipalMapper::parse(r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
        }
    }

    #[test]
    fn kafka_documented_invalid_rules_are_refused() {
        for r in [
            "default",
            "DEFAUL",
            "DEFAULT/L",
            "DEFAULT/U",
            "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
            "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        ] {
            assert!(PrincipalMapper::parse(r).is_err(), "{r:?} should be refused");
        }
        let e = PrincipalMapper::parse("RULE:(?<=x)y/$1/").unwrap_err().to_string();
        assert!(e.contains("invalid pattern"), "{e}");
    }

    #[test]
    fn kafka_documented_mappings() {
        let mapper = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, \
             RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT",
        )
        .unwrap();
        let name = |dn: &str| mapper.name(dn).unwrap();
        assert_eq!(name("CN=Duke,OU=ServiceUsers,O=Org,C=US"), "duke");
        assert_eq!(name("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"), "duke@sme");
        assert_eq!(name("cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
        assert_eq!(name("cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
        assert_eq!(name("OU=JavaSoft,O=Sun Microsystems,C=US"), "OU=JavaSoft,O=Sun Microsystems,C=US");
    }

    #[test]
    fn escaped_commas_in_names_and_patterns() {
        let mapper = PrincipalMapper::parse(r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT").unwrap();
        assert_eq!(mapper.name(r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz").unwrap(), r"Tkac\, Adam");
    }

    #[test]
    fn rules_split_as_kafka_splits_them() {
        assert_eq!(rules(""), "[]");
        assert_eq!(rules("DEFAULT"), "[DEFAULT]");
        assert_eq!(rules("RULE://"), "[RULE:/]");
        assert_eq!(rules("RULE:/.*/"), "[RULE:/.*]");
        assert_eq!(rules("RULE:/.*/L"), "[RULE:/.*/L]");
        assert_eq!(rules("RULE://,DEFAULT"), "[RULE:/, DEFAULT]");
        assert_eq!(rules("  RULE:// ,  DEFAULT  "), "[RULE:/, DEFAULT]");
        assert_eq!(rules("  RULE:   /     / ,  DEFAULT  "), "[RULE:   /     , DEFAULT]");
        assert_eq!(rules("  RULE:  /     /U   ,DEFAULT  "), "[RULE:  /     /U, DEFAULT]");
        assert_eq!(
            rules("  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "),
            "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]"
        );
        assert_eq!(rules(",   , , ,      , , ,   "), "[]");
        assert_eq!(rules(",,RULE://,,,DEFAULT,,"), "[RULE:/, DEFAULT]");
        assert_eq!(rules(",  , RULE: /   /    ,,,   DEFAULT, ,   "), "[RULE: /   , DEFAULT]");
        assert_eq!(rules("     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,"), "[RULE:   /  /U, DEFAULT]");
        assert_eq!(rules(r"RULE:\/\\\(\)\n\t/\/\//"), r"[RULE:\/\\\(\)\n\t/\/\/]");
        assert_eq!(rules(r"RULE:\**\/+/*/L,RULE:\/*\**/**/"), r"[RULE:\**\/+/*/L, RULE:\/*\**/**]");
        assert_eq!(
            rules(r"RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT"),
            r"[RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]"
        );
    }

    #[test]
    fn no_matching_rule_maps_nothing_and_unknown_groups_stay_literal() {
        let mapper = PrincipalMapper::parse("RULE:^CN=(.*?),O=Acme$/$1/").unwrap();
        assert_eq!(mapper.name("CN=a,O=Other"), None, "no rule applies: the client is refused");
        let mapper = PrincipalMapper::parse("RULE:^CN=(.*?),OU=(.*?)$/$1@$3$12\\$2/").unwrap();
        assert_eq!(mapper.name("CN=a,OU=b").unwrap(), "a@$3a2$2");
        assert!(PrincipalMapper::parse("RULE:^.*$/x/").unwrap().name("anything").is_some());
    }
}
