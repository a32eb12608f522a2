//! Golden files of what users see, so renaming an option, changing its default or its help is a visible
//! diff: `weft agent --help` and the options table of `docs/agent-options.md`. After an intended change,
//! rewrite them with `WEFT_BLESS=1 cargo test -p weft-config --test golden`.

mod common;

use std::path::PathBuf;
use weft_config::options;

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

fn check_golden(rel: &str, actual: &str) {
    let path = repo_file(rel);
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "{rel} is stale; rerun with WEFT_BLESS=1 and review the diff\n{actual}");
}

#[test]
fn agent_help() {
    let help = common::with_env(&[], || common::command().render_help().to_string());
    check_golden("crates/config/tests/agent-help.txt", &help);
}

/// The options table of the docs, one row per option in table order.
fn markdown() -> String {
    let mut out = String::from(
        "# `weft agent` options\n\n\
         Generated from the option table (`crates/config/src/options.rs`) by `cargo test -p weft-config`; after\n\
         changing an option, rewrite it with `WEFT_BLESS=1 cargo test -p weft-config --test golden`.\n\n\
         Each option is a flag, a `WEFT_*` environment variable and a key of the TOML file given with `--config`\n\
         (`--config` / `WEFT_CONFIG`). A flag wins over a variable, a variable over the file, the file over the\n\
         default. Times are whole milliseconds unless the name says minutes; `--admin-listen off` disables the\n\
         admin listener. The agent refuses to start with a value outside the rule column, naming the option.\n\n\
         | flag | variable | TOML key | default | rule | meaning |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for o in options() {
        let rule = o.checks.iter().map(|c| match *c {
            "positive" => "> 0",
            "percent" => "1-100",
            _ => ">= 0",
        });
        let rule = rule.collect::<Vec<_>>();
        out.push_str(&format!(
            "| `--{}` | `{}` | `{}` | {} | {} | {} |\n",
            o.flag(),
            o.env(),
            o.key,
            if o.default.contains(' ') { o.default.clone() } else { format!("`{}`", o.default) },
            rule.join(", "),
            o.help().replace('|', "\\|")
        ));
    }
    out.push_str(
        "\nBesides: `--group-min-session-timeout-ms` must be at most `--group-max-session-timeout-ms`, and\n\
         `--group-consumer-heartbeat-interval-ms` less than `--group-consumer-session-timeout-ms`, and\n\
         `--broker-heartbeat-interval-ms` less than `--broker-session-timeout-ms`. `--roles` takes `kafka`, `jobs`\n\
         or both; `--node-id -1` takes a free id from the agent registry.\n",
    );
    out
}

#[test]
fn docs_table() {
    check_golden("docs/agent-options.md", &markdown());
}

/// The README's configuration table is a hand-picked summary; every flag it names must exist.
#[test]
fn readme_names_only_declared_flags() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let section = readme.split("## Configuration").nth(1).expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let declared: Vec<String> =
        options().iter().map(|o| format!("--{}", o.flag())).chain(["--config".into()]).collect();
    let mut named = 0;
    for word in section.split('`').filter(|w| w.starts_with("--")) {
        assert!(declared.iter().any(|d| d == word), "README.md names {word}, which is not an option");
        named += 1;
    }
    assert!(named > 20, "found only {named} flags in the README's Configuration section");
}
