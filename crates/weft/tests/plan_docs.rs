//! docs/plan.md's worked example is what `weft plan` prints, table and JSON, character for character, and
//! the document names every flag `weft plan --help` lists.

use std::process::Command;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plan.md");
    std::fs::read_to_string(path).expect("docs/plan.md")
}

/// The fenced blocks of `text`, in order: (language, content with a final newline).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.to_string(), String::new())),
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn weft(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).output().expect("weft runs");
    assert!(out.status.success(), "weft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_worked_example_is_what_the_command_prints() {
    let text = doc();
    let example = text.split_once("## Worked example").expect("a worked example section").1;
    let blocks = blocks(example);
    assert_eq!(blocks.len(), 4, "a command and its table, a command and its JSON");
    for pair in blocks.chunks(2) {
        let [(lang, command), (_, expected)] = pair else { panic!("a command and its output") };
        assert_eq!(lang, "sh");
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        assert_eq!(&weft(&args), expected, "weft {args:?}");
    }
    assert_eq!(blocks[3].0, "json");
}

#[test]
fn every_flag_is_documented() {
    let text = doc();
    let help = weft(&["plan", "--help"]);
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && *w != "--help")
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .collect();
    assert!(flags.len() > 30, "{flags:?}");
    for flag in flags {
        assert!(
            text.contains(&format!("`{flag}`")) || text.contains(&format!("`{flag} ")),
            "{flag} is not in docs/plan.md"
        );
    }
}

/// Each numeric default in docs/plan.md's tables is the command's: giving the flag that value changes
/// nothing in the JSON plan.
#[test]
fn the_documented_defaults_are_the_defaults() {
    let text = doc();
    let base = ["plan", "--write-mb-per-sec", "5", "--json"];
    let plain = weft(&base);
    let mut checked = 0;
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(flag), Some(value)) = (cells.get(1), cells.get(2)) else { continue };
        let Some(flag) = flag.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else { continue };
        if !flag.starts_with("--") || value.parse::<f64>().is_err() || flag == "--sample-secs" {
            continue;
        }
        let mut args = base.to_vec();
        args.extend([flag, value]);
        assert_eq!(weft(&args), plain, "{flag} {value}");
        checked += 1;
    }
    assert!(checked >= 25, "{checked} defaults checked");
}
