use super::*;
use crate::analysis::analyse;
use crate::fixture::{quiet_samples, run, with_broken_objective};

fn analysed(mut r: Run) -> Run {
    r.bottleneck = Some(analyse(&r));
    r
}

#[test]
fn every_string_is_escaped() {
    let mut r = analysed(run(quiet_samples(4)));
    r.settings.insert("<script>alert(1)</script>".into(), "\"><img src=x onerror=alert(2)>".into());
    let html = render(&r, None);
    assert!(!html.contains("<script>alert"), "a setting's key is escaped");
    assert!(!html.contains("<img"), "a setting's value is escaped");
    assert!(html.contains("constructed &lt;run&gt; &amp; &quot;quoted&quot;"));
    assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
}

#[test]
fn a_single_run_has_every_section_and_chart() {
    let html = render(&analysed(with_broken_objective(run(quiet_samples(6)))), None);
    for heading in [
        "Bottleneck",
        "Throughput and latency over time",
        "Latency distribution",
        "Resource use over time",
        "Ramp steps",
        "Settings",
    ] {
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    assert!(html.contains("latency_objective") && html.contains("Where time went: produce"));
    assert!(html.contains("<b class=\"worse\">no</b>"), "the step that missed the objective");
    assert!(!html.contains("Compared with the baseline"));
}

#[test]
fn a_comparison_overlays_the_baseline_and_tabulates_deltas() {
    let base = analysed(run(quiet_samples(4)));
    let mut faster = run(quiet_samples(4));
    faster.intervals.iter_mut().for_each(|i| i.produced_records *= 2);
    faster.histograms.get_mut("produce_ack").unwrap().iter_mut().for_each(|b| b.le_ms /= 2.0);
    let faster = analysed(faster);
    let html = render(&faster, Some(&base));
    assert!(html.contains("Compared with the baseline"));
    assert!(html.contains("data-series=\"baseline produced\""));
    assert!(html.contains("stroke-dasharray=\"6 4\""));
    assert!(html.contains("class=\"n better\">+100.0 %"), "throughput doubled");
    let table = compare_table(&faster, &base);
    let produced = table.lines().find(|l| l.starts_with("produced (records/s)")).unwrap();
    assert!(produced.ends_with("+100.0 %"), "{table}");
    let p99 = table.lines().find(|l| l.starts_with("produce ack p99")).unwrap();
    assert!(p99.ends_with("-50.0 %"), "{table}");
    assert!(table.lines().last().unwrap().starts_with("bottleneck"), "{table}");
}

/// Whether a missing browser fails the browser test (`WEFT_REQUIRE_BROWSER=1`, as CI sets) rather than
/// skipping it.
fn browser_required() -> bool {
    std::env::var("WEFT_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// The page in a real browser: Debian's `chromium`, headless. The script marks the body `data-rendered`
/// with the number of charts once it ran without error, so a dumped DOM with that attribute proves the
/// page parsed, the SVG rendered into the DOM and the script ran. Without the browser the test fails when
/// `WEFT_REQUIRE_BROWSER=1`, and is skipped with the reason otherwise.
#[test]
fn the_page_renders_in_headless_chromium() {
    let chromium = std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    if let Err(e) = std::process::Command::new(&chromium).arg("--version").output() {
        let reason = format!("{chromium} cannot run ({e}): install Debian's chromium (scripts/setup-test-deps.sh)");
        assert!(!browser_required(), "WEFT_REQUIRE_BROWSER=1 but {reason}");
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("weft-report-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let base = analysed(run(quiet_samples(5)));
    std::fs::write(&page, render(&analysed(with_broken_objective(run(quiet_samples(6)))), Some(&base))).unwrap();
    let shot = dir.join("shot.png");
    let output = std::process::Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--virtual-time-budget=5000")
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("data-rendered=\"6\""), "stderr: {}\ndom: {dom}", String::from_utf8_lossy(&output.stderr));
    assert!(dom.matches("<polyline").count() >= 10, "the line charts' series are in the DOM");
    assert!(dom.contains("<rect class=\"series\""), "the histogram's bars are in the DOM");
    let status = std::process::Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,4000"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&status.stderr)));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a screenshot with content: {} bytes", png.len());
    if std::env::var_os("WEFT_KEEP_SHOT").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The browser test, rerun in a child process of this test binary with a browser that does not exist:
/// it fails when a browser is required and is skipped (passes, saying why) when not.
#[test]
fn a_missing_browser_fails_only_when_required() {
    let run = |required: &str| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "html::tests::the_page_renders_in_headless_chromium", "--nocapture"])
            .env("WEFT_CHROMIUM", "/nonexistent/weft-test-chromium")
            .env("WEFT_REQUIRE_BROWSER", required)
            .output()
            .unwrap()
    };
    let required = run("1");
    assert!(!required.status.success(), "required: {}", String::from_utf8_lossy(&required.stdout));
    let optional = run("0");
    assert!(optional.status.success(), "optional: {}", String::from_utf8_lossy(&optional.stderr));
    assert!(String::from_utf8_lossy(&optional.stderr).contains("SKIPPED: /nonexistent/weft-test-chromium cannot run"));
    let ran = String::from_utf8_lossy(&optional.stdout);
    assert!(ran.contains("1 passed"), "the child ran the browser test: {ran}");
}
