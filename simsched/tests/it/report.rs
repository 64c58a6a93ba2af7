//! HTML reports: `--report` on `run` and `compare`, and `simsched report DIR`.

use std::path::Path;

use super::simulate::{OPENB_GPU_NODES, OPENB_NODES, OPENB_PODS, TempDir, generated};
use super::{golden, simsched, stderr, stdout};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Checks that `html` is a well-formed document with well-formed SVG charts, that it names every policy
/// in its table and charts and every metric of its table, and that it reaches for nothing outside itself.
fn check_report(html: &str, policies: &[&str], headers: &[&str], n_charts: usize) {
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(html, options).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    let title = root.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text()).unwrap_or_default();
    assert!(title.starts_with("simsched "), "{title}");

    // Each chart is an SVG document of its own, with a size, a title and something drawn.
    let svgs: Vec<roxmltree::Node> = root.descendants().filter(|n| n.tag_name().name() == "svg").collect();
    assert_eq!(svgs.len(), n_charts, "charts");
    for svg in &svgs {
        assert_eq!(svg.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        for attr in ["width", "height", "viewBox"] {
            let value = svg.attribute(attr).unwrap_or_else(|| panic!("an svg without {attr}"));
            assert!(value.split(' ').all(|v| v.parse::<u32>().is_ok()), "{attr}={value}");
        }
        let drawn = svg.descendants().filter(|n| matches!(n.tag_name().name(), "polyline" | "rect" | "line")).count();
        assert!(drawn > 3, "an empty chart");
        assert!(svg.descendants().filter(|n| n.has_tag_name("text")).count() > 3, "a chart without labels");
        let start = svg.range().start;
        let alone = &html[start..svg.range().end];
        roxmltree::Document::parse(alone).unwrap_or_else(|e| panic!("an svg that is not well-formed on its own: {e}"));
    }

    // The summary table: every policy has a row, every metric a column.
    let cells = table_cells(&doc);
    for policy in policies {
        assert!(cells.iter().any(|c| c == policy), "{policy} is not in the table");
        let in_charts =
            svgs.iter().filter(|svg| svg.descendants().any(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(*policy))).count();
        assert!(in_charts * 2 >= n_charts, "{policy} is in only {in_charts} of {n_charts} charts");
    }
    for header in headers {
        assert!(cells.iter().any(|c| c == header), "{header} is not in the table");
    }

    // Nothing fetched: no sources, links, imports or CSS URLs; the only address is SVG's namespace name.
    for node in root.descendants() {
        for attr in node.attributes() {
            assert!(!matches!(attr.name(), "src" | "href" | "action" | "srcset"), "{}={}", attr.name(), attr.value());
        }
        assert!(!node.has_tag_name("script") && !node.has_tag_name("link") && !node.has_tag_name("img"), "{:?}", node.tag_name());
    }
    assert!(!html.contains("url(") && !html.contains("@import"));
    assert_eq!(html.matches("http").count(), html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
}

/// The text of every cell of the report's table.
fn table_cells(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("td") || n.has_tag_name("th"))
        .map(|n| n.descendants().filter_map(|t| t.is_text().then(|| t.text()).flatten()).collect())
        .collect()
}

/// The table's headers of a replay comparison on the openb sample.
const COMPARE_HEADERS: [&str; 13] = [
    "RANK",
    "POLICY",
    "JCT MEAN",
    "JCT P99",
    "QUEUEING MEAN",
    "QUEUEING P99",
    "MAKESPAN",
    "CPU",
    "MEMORY",
    "ALIBABACLOUD.COM/GPU-MILLI",
    "NVIDIA.COM/GPU",
    "PENDING MEAN",
    "NEVER PLACED",
];

#[test]
fn compare_report_on_the_bundled_sample_golden() {
    let dir = TempDir::new();
    let (html_path, out) = (dir.path("compare.html"), dir.path("out"));
    let a = simsched(&[
        "compare", "--policy", "default", "--policy", "binpack", "--policy", "fgd", "--seeds", "2", "--seed", "7", "--out", &out,
        "--report", &html_path, "-q",
    ])
    .success();
    let html = read(&html_path);
    // 4 resources, pending pods and GPU fragmentation over time; 2 distributions; 11 metrics' bars.
    check_report(&html, &["default", "binpack", "fgd"], &COMPARE_HEADERS, 6 + 2 + 11);
    // The terminal's table, cell for cell.
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let cells = table_cells(&roxmltree::Document::parse_with_options(&html, options).unwrap());
    for line in stdout(&a).lines().skip(2) {
        for cell in line.split("   ").map(str::trim).filter(|c| !c.is_empty()) {
            assert!(cells.iter().any(|c| c == cell), "{cell:?} of the terminal is not in the report");
        }
    }
    golden("report-compare.html", &html);

    // The same report again from the saved results.
    let rebuilt = simsched(&["report", &out]).success();
    assert_eq!(read(&format!("{out}/report.html")), html);
    assert_eq!(stdout(&rebuilt), stdout(&a));
    assert!(stderr(&rebuilt).contains("report.html"));
}

#[test]
fn run_report_from_the_run_and_from_its_out_directory() {
    let dir = TempDir::new();
    let (cluster, workload) = generated(&dir);
    let (html_path, out) = (dir.path("run.html"), dir.path("out"));
    simsched(&["run", "--cluster", &cluster, "--workload", &workload, "--policy", "binpack", "--out", &out, "--report", &html_path, "-q"])
        .success();
    let html = read(&html_path);
    // Allocation and pods over time, 2 distributions; no bars for one run.
    check_report(&html, &[], &[], 4);
    for key in ["Policy:", "JCT:", "Queueing delay:", "Allocation:", "Pending:"] {
        assert!(html.contains(&format!("<td>{key}</td>")), "{key}");
    }
    assert!(!html.contains("Wall time"), "the report holds no wall-clock time");
    let other = dir.path("other.html");
    simsched(&["report", &out, "--report", &other]).success();
    assert_eq!(read(&other), html);
}

#[test]
fn demand_sweep_report() {
    let dir = TempDir::new();
    let (html_path, out) = (dir.path("demand.html"), dir.path("out"));
    let a = simsched(&[
        "compare",
        "--cluster",
        OPENB_GPU_NODES,
        "--workload",
        OPENB_PODS,
        "--demand-sweep",
        "100",
        "--policy",
        "fgd",
        "--policy",
        "random",
        "--seeds",
        "2",
        "--out",
        &out,
        "--report",
        &html_path,
        "-q",
    ])
    .success();
    let html = read(&html_path);
    // Allocated, fragmented, fragmented/idle against demand; 4 metrics' bars at the target.
    check_report(&html, &["fgd", "random"], &["GPU ALLOCATED", "GPU FRAGMENTED", "FRAG / IDLE", "PODS FAILED"], 3 + 4);
    assert!(html.contains("arrived GPU demand (% of GPUs)"));
    simsched(&["report", &out]).success();
    assert_eq!(read(&format!("{out}/report.html")), html);
    assert!(stdout(&a).contains("At 100% arrived GPU demand"));
}

#[test]
fn report_errors_name_what_is_wrong() {
    let dir = TempDir::new();
    let a = simsched(&["report", &dir.path("")]).failure();
    assert!(stderr(&a).contains("failed to find compare.json, demand.json or summary.json"), "{}", stderr(&a));
    let a = simsched(&["report", "no/such/dir"]).failure();
    assert!(stderr(&a).contains("not a directory"), "{}", stderr(&a));
    std::fs::write(dir.0.join("summary.json"), "{\"policy\": 3}").unwrap();
    let a = simsched(&["report", &dir.path("")]).failure();
    assert!(stderr(&a).contains("summary.json: at policy (line 1"), "{}", stderr(&a));
    // A report that cannot be written fails before any simulation.
    let a = simsched(&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--report", "no/such/dir/r.html"]).failure();
    assert!(stderr(&a).contains("the directory no/such/dir does not exist"), "{}", stderr(&a));
    let a = simsched(&["compare", "--report", &dir.path("")]).failure();
    assert!(stderr(&a).contains("it is a directory"), "{}", stderr(&a));
    assert!(!Path::new(&dir.path("report.html")).exists());
}
