//! The HTML report of `run`, `compare` and their demand sweeps: one self-contained file (inline CSS and
//! SVG charts, nothing fetched), the same summary table as the terminal, then the charts. Deterministic:
//! the same results give the same bytes, so a report rebuilt from `--out` files equals the one written by
//! `--report`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use simulator::{Comparison, Summary, Timeline};

use crate::chart::{self, Axis, Bar, BarChart, Line, LineChart};
use crate::compare::{ColumnKind, columns, ranking_table};
use crate::demand::{PolicySweeps, at_target, target_metrics};
use crate::table::{ResultTable, human_seconds, seconds_in_unit};

pub const LONG_ABOUT: &str = "Build the HTML report of a saved run, comparison or demand sweep from its --out directory, and print its summary table.

The directory is what `simsched run --out DIR` or `simsched compare --out DIR` wrote: compare.json (a comparison), demand.json (a demand sweep) or summary.json (a run). The report is the one --report would have written: the same results give the same bytes.";

pub const EXAMPLES: &str = "\
Examples:
  # Compare, keep the results, build the report later (results/report.html)
  simsched compare --seeds 5 --out results/
  simsched report results/

  # The report of a run, written elsewhere
  simsched report out/ --report ~/run.html";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory written by `simsched run --out` or `simsched compare --out`
    #[arg(value_name = "DIR")]
    dir: PathBuf,

    /// Where to write the report [default: DIR/report.html]
    #[arg(long, value_name = "PATH.html")]
    report: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<()> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!("failed to read {}: not a directory (give the --out DIR of a run or comparison)", dir.display());
    }
    let path = args.report.clone().unwrap_or_else(|| dir.join("report.html"));
    check_destination(&path)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(comparison) = read_json::<Comparison>(&dir.join("compare.json"))? {
        write(&path, &Source::Compare(&comparison), false)?;
        ranking_table(&comparison).write(&mut out)?;
    } else if let Some(saved) = read_json::<crate::demand::DemandReport>(&dir.join("demand.json"))? {
        write(&path, &Source::Demand { target_percent: saved.target_percent, policies: &saved.policies }, false)?;
        let seeds = saved.policies.first().map_or(0, |p| p.runs.len());
        crate::demand::ranking_table(&saved.policies, saved.target_percent, seeds).write(&mut out)?;
    } else if let Some(summary) = read_json::<Summary>(&dir.join("summary.json"))? {
        write(&path, &Source::Run(&summary), false)?;
        crate::run::summary_table(&summary).write(&mut out)?;
    } else {
        bail!(
            "failed to find compare.json, demand.json or summary.json in {} (the files `simsched compare --out` and `simsched run --out` write)",
            dir.display()
        );
    }
    Ok(())
}

/// The JSON file at `path`, or None when there is none.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        anyhow::anyhow!("failed to read {}: at {} (line {}, column {}): {inner}", path.display(), e.path(), inner.line(), inner.column())
    })?;
    Ok(Some(value))
}

/// Fails early (before any simulation) when the report cannot be written to `path`.
pub fn check_destination(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("failed to use {} for the report: it is a directory (give a file name such as report.html)", path.display());
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!("failed to use {} for the report: the directory {} does not exist", path.display(), parent.display());
    }
    Ok(())
}

/// What a report shows.
pub enum Source<'a> {
    /// One simulation (`simsched run`).
    Run(&'a Summary),
    /// Policies compared over seeds (`simsched compare`).
    Compare(&'a Comparison),
    /// Demand sweeps (`--demand-sweep`), policies best first.
    Demand { target_percent: u32, policies: &'a [PolicySweeps] },
}

/// Writes the report of `source` to `path`, and says so on stderr unless `quiet`.
pub fn write(path: &Path, source: &Source<'_>, quiet: bool) -> Result<()> {
    let html = html(source)?;
    std::fs::write(path, html).with_context(|| format!("failed to write the report {}", path.display()))?;
    if !quiet {
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

/// The report of `source` as an HTML document.
pub fn html(source: &Source<'_>) -> Result<String> {
    let mut page = Page::default();
    match source {
        Source::Run(summary) => run_report(&mut page, summary)?,
        Source::Compare(comparison) => compare_report(&mut page, comparison)?,
        Source::Demand { target_percent, policies } => demand_report(&mut page, *target_percent, policies)?,
    }
    Ok(page.finish())
}

/// The document as it is built: a title, a line of context, sections of tables and charts.
#[derive(Default)]
struct Page {
    title: String,
    context: String,
    body: String,
}

impl Page {
    /// Starts a section whose content is laid out as `class` (`charts`: side by side).
    fn section_of(&mut self, title: &str, caption: &str, class: &str) {
        if !self.body.is_empty() {
            self.body.push_str("</div>\n</section>\n");
        }
        let _ = write!(self.body, "<section>\n<h2>{}</h2>\n", escape(title));
        if !caption.is_empty() {
            let _ = writeln!(self.body, "<p class=\"caption\">{}</p>", escape(caption));
        }
        let _ = writeln!(self.body, "<div class=\"{class}\">");
    }

    fn section(&mut self, title: &str, caption: &str) {
        self.section_of(title, caption, "charts");
    }

    fn table(&mut self, table: &ResultTable) {
        self.section_of("Summary", &table.note, "table");
        self.body.push_str("<table>\n");
        if !table.header.is_empty() {
            self.body.push_str("<thead><tr>");
            for (idx, h) in table.header.iter().enumerate() {
                let class = if idx >= table.numbers_from { " class=\"num\"" } else { "" };
                // A long resource name may break after its dots and slashes.
                let header = escape(h).replace('/', "/<wbr/>").replace('.', ".<wbr/>");
                let _ = write!(self.body, "<th{class}>{header}</th>");
            }
            self.body.push_str("</tr></thead>\n");
        }
        self.body.push_str("<tbody>\n");
        for row in &table.rows {
            self.body.push_str("<tr>");
            for (idx, cell) in row.iter().enumerate() {
                let mut classes = Vec::new();
                if idx >= table.numbers_from {
                    classes.push("num");
                }
                if cell.starts_with('*') {
                    classes.push("best");
                }
                let class = if classes.is_empty() { String::new() } else { format!(" class=\"{}\"", classes.join(" ")) };
                let _ = write!(self.body, "<td{class}>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody>\n</table>\n");
    }

    fn chart(&mut self, svg: &str) {
        self.body.push_str("<figure>\n");
        self.body.push_str(svg.trim_end());
        self.body.push_str("\n</figure>\n");
    }

    fn finish(mut self) -> String {
        if !self.body.is_empty() {
            self.body.push_str("</div>\n</section>\n");
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{title}</title>\n\
             <style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n<p class=\"context\">{context}</p>\n</header>\n\
             {body}<footer>Written by simsched {version}. Every chart and number comes from the simulations above; \
             the same results give the same report.</footer>\n</body>\n</html>\n",
            title = escape(&self.title),
            context = escape(&self.context),
            body = self.body,
            version = env!("CARGO_PKG_VERSION"),
        )
    }
}

const STYLE: &str = "body { font-family: system-ui, -apple-system, \"Segoe UI\", \"DejaVu Sans\", sans-serif; color: #333; margin: 24px auto; max-width: 1340px; padding: 0 16px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 4px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.context, .caption { color: #666; margin: 4px 0 12px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.95em; }
th, td { padding: 4px 9px; border-bottom: 1px solid #eee; text-align: left; white-space: pre; }
th { border-bottom: 2px solid #ccc; font-weight: 600; white-space: normal; vertical-align: bottom; }
td.num, th.num { text-align: right; }
td.best { font-weight: 700; background: #eaf4ea; }
.table { overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #eee; }
figure svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: \"DejaVu Sans\", Verdana, sans-serif; }
footer { color: #888; font-size: 0.85em; margin-top: 32px; }
";

/// `text` safe in HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn run_report(page: &mut Page, s: &Summary) -> Result<()> {
    page.title = format!("simsched run: {}", s.policy);
    page.context = format!(
        "Policy {} · seed {} · {} pods arrived · simulated {}",
        s.policy,
        s.seed,
        s.pods.arrived,
        human_seconds(s.simulated_seconds)
    );
    page.table(&crate::run::summary_table(s));
    let time = TimeUnit::of(s.timeline.time.last().copied().unwrap_or(0.0));
    if !s.timeline.is_empty() {
        page.section("Over simulated time", &timeline_caption(&[&s.timeline], None));
        let resources = ordered_resources(&[&s.timeline]);
        let lines = resources
            .iter()
            .enumerate()
            .map(|(idx, r)| series(r, chart::color(idx), &s.timeline.time, &s.timeline.allocation[*r], time, 100.0))
            .collect();
        page.chart(&allocation_chart("Allocation over time", "allocated / allocatable (%)", time, lines)?);
        let lines = vec![
            series("pending", chart::color(0), &s.timeline.time, &s.timeline.pending, time, 1.0),
            series("running", chart::color(1), &s.timeline.time, &s.timeline.running, time, 1.0),
        ];
        page.chart(&count_chart("Pods over time", time, lines)?);
        if !s.timeline.gpu_fragmentation.is_empty() {
            let line = series(&s.policy, chart::color(0), &s.timeline.time, &s.timeline.gpu_fragmentation, time, 100.0);
            page.chart(&allocation_chart("GPU fragmentation over time", "fragmented GPUs (% of GPUs)", time, vec![line])?);
        }
    }
    distribution_section(page, &[(s.policy.as_str(), vec![s])])
}

fn compare_report(page: &mut Page, c: &Comparison) -> Result<()> {
    let n_seeds = c.seeds.len();
    let arrived = c.rows.first().and_then(|r| r.runs.first()).map_or(0, |s| s.pods.arrived);
    let simulated = c.rows.iter().flat_map(|r| &r.runs).map(|s| s.simulated_seconds).fold(0.0, f64::max);
    page.title = format!("simsched compare: {} policies", c.rows.len());
    page.context = format!(
        "{} policies × {} · {arrived} pods arrived · simulated up to {} · ranked by {}",
        c.rows.len(),
        seeds_phrase(&c.seeds),
        human_seconds(simulated),
        c.rank_by
    );
    let table = ranking_table(c);
    page.table(&table);

    // Each policy's run with the first seed, by the policy's place in the ranking (its colour).
    let firsts: Vec<(usize, &Summary)> = c.rows.iter().enumerate().filter_map(|(idx, row)| Some((idx, row.runs.first()?))).collect();
    let timelines: Vec<&Timeline> = firsts.iter().map(|(_, s)| &s.timeline).collect();
    if timelines.iter().any(|t| !t.is_empty()) {
        let time = TimeUnit::of(timelines.iter().filter_map(|t| t.time.last()).copied().fold(0.0, f64::max));
        let seed = c.seeds.first().copied().unwrap_or(0);
        page.section("Over simulated time", &timeline_caption(&timelines, Some(seed)));
        for resource in ordered_resources(&timelines) {
            let lines = per_policy(&firsts, |t| t.allocation.get(resource).map(|v| (&t.time, v)), time, 100.0);
            page.chart(&allocation_chart(&format!("{resource} allocated over time"), "allocated / allocatable (%)", time, lines)?);
        }
        let lines = per_policy(&firsts, |t| Some((&t.time, &t.pending)), time, 1.0);
        page.chart(&count_chart("Pending pods over time", time, lines)?);
        if timelines.iter().any(|t| !t.gpu_fragmentation.is_empty()) {
            let lines = per_policy(&firsts, |t| (!t.gpu_fragmentation.is_empty()).then_some((&t.time, &t.gpu_fragmentation)), time, 100.0);
            page.chart(&allocation_chart("GPU fragmentation over time", "fragmented GPUs (% of GPUs)", time, lines)?);
        }
    }
    let runs: Vec<(&str, Vec<&Summary>)> = c.rows.iter().map(|r| (r.policy.as_str(), r.runs.iter().collect())).collect();
    distribution_section(page, &runs)?;

    let spread = if n_seeds > 1 {
        format!("Bar: the mean over {n_seeds} seeds; whisker: the smallest to the largest seed; text: the table's cell.")
    } else {
        "One seed: the bars are that run's values; text: the table's cell.".to_string()
    };
    page.section("Metrics by policy", &spread);
    for (col_idx, column) in columns(c).iter().enumerate() {
        let values: Vec<Option<&simulator::MetricSpread>> = c.rows.iter().map(|r| r.metrics.get(&column.metric)).collect();
        let scale_of = values.iter().flatten().map(|m| m.mean.abs()).fold(0.0, f64::max);
        let (factor, unit): (f64, String) = match column.kind {
            ColumnKind::Seconds => {
                let (v, unit) = seconds_in_unit(scale_of, scale_of);
                (if scale_of > 0.0 { v / scale_of } else { 1.0 }, unit_name(unit).to_string())
            }
            ColumnKind::Fraction => (100.0, "%".to_string()),
            ColumnKind::Count => (1.0, "pods".to_string()),
        };
        let bars = c
            .rows
            .iter()
            .enumerate()
            .filter_map(|(idx, row)| {
                let m = row.metrics.get(&column.metric)?;
                Some(Bar {
                    label: row.policy.clone(),
                    color: chart::color(idx),
                    mean: m.mean * factor,
                    min: m.min * factor,
                    max: m.max * factor,
                    text: table.rows[idx][col_idx + 2].clone(),
                })
            })
            .collect();
        let better = if simulator::lower_is_better(&column.metric) { "lower is better" } else { "higher is better" };
        page.chart(&chart::bar_chart(&BarChart {
            title: format!("{} ({better})", column.title),
            x_title: format!("{} ({unit})", column.title),
            x_format: Box::new(short_number),
            bars,
        })?);
    }
    Ok(())
}

fn demand_report(page: &mut Page, target: u32, policies: &[PolicySweeps]) -> Result<()> {
    let mut seeds: Vec<u64> = policies.iter().flat_map(|p| p.runs.iter().map(|r| r.seed)).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let gpus = policies.iter().flat_map(|p| &p.runs).map(|r| r.capacity_milli).max().unwrap_or(0) as f64 / 1000.0;
    page.title = format!("simsched demand sweep: {} policies", policies.len());
    page.context = format!(
        "{} policies × {} · arrived GPU demand from 0 to {target}% of {gpus} GPUs (the FGD paper's evaluation)",
        policies.len(),
        seeds_phrase(&seeds)
    );
    let table = crate::demand::ranking_table(policies, target, seeds.len());
    page.table(&table);
    page.section(
        "Against arrived GPU demand",
        &format!(
            "x: GPUs the arrived pods asked for, as a share of the cluster's; y: the mean over {} of the pods' placement so far.",
            seeds_phrase(&seeds)
        ),
    );
    let x_axis = || Axis::linear("arrived GPU demand (% of GPUs)", 0.0, f64::from(target), |v| format!("{v:.0}"));
    // Each percent's mean over the seeds that reached it.
    let mean_curve = |p: &PolicySweeps, value: fn(&simulator::DemandRow) -> f64| -> Vec<(f64, f64)> {
        (0..=target)
            .filter_map(|x| {
                let values: Vec<f64> =
                    p.runs.iter().filter_map(|r| r.rows.iter().find(|row| row.arrived_percent == x)).map(value).collect();
                (!values.is_empty()).then(|| (f64::from(x), values.iter().sum::<f64>() / values.len() as f64))
            })
            .collect()
    };
    for metric in target_metrics().iter().filter(|m| m.percent) {
        let mut lines: Vec<Line> = policies
            .iter()
            .enumerate()
            .map(|(idx, p)| Line {
                label: p.policy.clone(),
                color: chart::color(idx),
                points: mean_curve(p, metric.value),
                reference: false,
            })
            .collect();
        let top = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
        let mut y_max = round_up(top * 1.05).min(100.0);
        if metric.higher_is_better {
            // What a policy that never wastes a GPU would allocate.
            let ideal = vec![
                (0.0, 0.0),
                (100.0f64.min(f64::from(target)), 100.0f64.min(f64::from(target))),
                (f64::from(target), 100.0f64.min(f64::from(target))),
            ];
            lines.push(Line {
                label: "all demand placed".into(),
                color: plotters::style::RGBColor(0x99, 0x99, 0x99),
                points: ideal,
                reference: true,
            });
            y_max = 100.0;
        }
        page.chart(&chart::line_chart(&LineChart {
            title: metric.title.to_string(),
            x: x_axis(),
            y: Axis::linear(metric.title, 0.0, y_max.max(1.0), |v| format!("{v:.0}")),
            lines,
        })?);
    }
    page.section(
        &format!("At {target}% arrived demand"),
        &format!("Bar: the mean over {}; whisker: the smallest to the largest seed; text: the table's cell.", seeds_phrase(&seeds)),
    );
    for (col_idx, metric) in target_metrics().iter().enumerate() {
        let bars = policies
            .iter()
            .enumerate()
            .map(|(idx, p)| {
                let spread = at_target(&p.runs, metric.value);
                Bar {
                    label: p.policy.clone(),
                    color: chart::color(idx),
                    mean: spread.mean,
                    min: spread.min,
                    max: spread.max,
                    text: table.rows[idx][col_idx + 2].clone(),
                }
            })
            .collect();
        let better = if metric.higher_is_better { "higher is better" } else { "lower is better" };
        page.chart(&chart::bar_chart(&BarChart {
            title: format!("{} ({better})", metric.title),
            x_title: metric.title.to_string(),
            x_format: Box::new(short_number),
            bars,
        })?);
    }
    Ok(())
}

/// "3 seeds (0–2)", "1 seed (7)".
fn seeds_phrase(seeds: &[u64]) -> String {
    let listed = match seeds {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if seeds.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => format!("{first}–{last}"),
        _ => seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
    };
    format!("{} seed{} ({listed})", seeds.len(), if seeds.len() == 1 { "" } else { "s" })
}

fn timeline_caption(timelines: &[&Timeline], seed: Option<u64>) -> String {
    let step = timelines.iter().map(|t| t.samples_per_point).max().unwrap_or(1);
    let mut caption = String::new();
    if let Some(seed) = seed {
        caption.push_str(&format!("One line per policy, its run with seed {seed}. "));
    }
    if step > 1 {
        caption.push_str(&format!("Each point is the mean of up to {step} consecutive samples (at most 1,024 points per run)."));
    } else {
        caption.push_str("Every sample is drawn.");
    }
    caption
}

/// The resources in the timelines, cpu and memory first, without those never allocated.
fn ordered_resources<'a>(timelines: &[&'a Timeline]) -> Vec<&'a str> {
    let mut resources: Vec<&str> =
        timelines.iter().flat_map(|t| t.allocation.iter()).filter(|(_, v)| v.iter().any(|x| *x > 0.0)).map(|(r, _)| r.as_str()).collect();
    resources.sort_by_key(|r| (!matches!(*r, "cpu" | "memory"), *r != "cpu", *r));
    resources.dedup();
    resources
}

/// One line per policy from its first run's timeline, where `pick` finds the values.
fn per_policy<'a>(
    firsts: &[(usize, &'a Summary)],
    pick: impl Fn(&'a Timeline) -> Option<(&'a Vec<f64>, &'a Vec<f64>)>,
    time: TimeUnit,
    factor: f64,
) -> Vec<Line> {
    firsts
        .iter()
        .filter_map(|&(idx, s)| {
            let (t, v) = pick(&s.timeline)?;
            Some(series(&s.policy, chart::color(idx), t, v, time, factor))
        })
        .collect()
}

fn series(label: &str, color: plotters::style::RGBColor, time: &[f64], values: &[f64], unit: TimeUnit, factor: f64) -> Line {
    let points = time.iter().zip(values).map(|(t, v)| (t / unit.seconds, v * factor)).collect();
    Line { label: label.to_string(), color, points, reference: false }
}

/// The unit of a time axis.
#[derive(Clone, Copy)]
struct TimeUnit {
    seconds: f64,
    name: &'static str,
}

impl TimeUnit {
    /// The unit for a run of `seconds`: whole numbers of it on the axis.
    fn of(seconds: f64) -> TimeUnit {
        let (seconds, name) = if seconds >= 2.0 * 86_400.0 {
            (86_400.0, "days")
        } else if seconds >= 2.0 * 3600.0 {
            (3600.0, "hours")
        } else if seconds >= 120.0 {
            (60.0, "minutes")
        } else {
            (1.0, "seconds")
        };
        TimeUnit { seconds, name }
    }

    fn axis(self, lines: &[Line]) -> Axis {
        let end = lines.iter().flat_map(|l| l.points.last()).map(|p| p.0).fold(0.0, f64::max);
        Axis::linear(format!("simulated time ({})", self.name), 0.0, end, short_number)
    }
}

fn allocation_chart(title: &str, y_title: &str, time: TimeUnit, lines: Vec<Line>) -> Result<String> {
    let top = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
    chart::line_chart(&LineChart {
        title: title.to_string(),
        x: time.axis(&lines),
        y: Axis::linear(y_title, 0.0, round_up(top * 1.05).clamp(1.0, 100.0), short_number),
        lines,
    })
}

fn count_chart(title: &str, time: TimeUnit, lines: Vec<Line>) -> Result<String> {
    let top = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
    chart::line_chart(&LineChart {
        title: title.to_string(),
        x: time.axis(&lines),
        y: Axis::linear("pods", 0.0, round_up(top * 1.05).max(1.0), short_number),
        lines,
    })
}

/// Durations the log axis of a distribution labels, with their labels.
const DURATION_TICKS: [(f64, &str); 12] = [
    (0.001, "1ms"),
    (0.01, "10ms"),
    (0.1, "100ms"),
    (1.0, "1s"),
    (10.0, "10s"),
    (60.0, "1m"),
    (600.0, "10m"),
    (3600.0, "1h"),
    (86_400.0, "1d"),
    (864_000.0, "10d"),
    (8_640_000.0, "100d"),
    (86_400_000.0, "1000d"),
];

/// The JCT and queueing-delay distribution functions, one line per policy (percentiles averaged over its
/// runs), on a logarithmic time axis.
fn distribution_section(page: &mut Page, runs: &[(&str, Vec<&Summary>)]) -> Result<()> {
    type Pick = fn(&Summary) -> &simulator::Distribution;
    let metrics: [(&str, &str, Pick); 2] = [("Job completion time", "jobs", |s| &s.jct), ("Queueing delay", "pods", |s| &s.queueing_delay)];
    let any = runs.iter().flat_map(|(_, r)| r).any(|s| !s.jct.percentiles.is_empty() || !s.queueing_delay.percentiles.is_empty());
    if !any {
        return Ok(());
    }
    let mut curves = Vec::new();
    for (title, what, pick) in metrics {
        let lines: Vec<(usize, &str, Vec<f64>)> = runs
            .iter()
            .enumerate()
            .filter_map(|(idx, (policy, summaries))| {
                let measured: Vec<&Vec<f64>> = summaries.iter().map(|s| &pick(s).percentiles).filter(|p| p.len() == 101).collect();
                if measured.is_empty() {
                    return None;
                }
                let mean: Vec<f64> = (0..101).map(|i| measured.iter().map(|p| p[i]).sum::<f64>() / measured.len() as f64).collect();
                Some((idx, *policy, mean))
            })
            .collect();
        if !lines.is_empty() {
            curves.push((title, what, lines));
        }
    }
    page.section(
        "Distributions",
        "The share of jobs (pods) done (placed) within x, on a logarithmic axis; one line per policy, its percentiles averaged over its runs.",
    );
    for (title, what, lines) in curves {
        // From the largest labelled duration below the smallest positive value to the smallest above the largest.
        let positive = lines.iter().flat_map(|(_, _, mean)| mean).copied().filter(|v| *v > 0.0);
        let (smallest, largest) = positive.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        // One second at the most, so that a run whose every pod waited zero or days still shows the seconds.
        let low = DURATION_TICKS.iter().map(|t| t.0).rfind(|t| *t <= smallest.min(1.0)).unwrap_or(DURATION_TICKS[0].0);
        let high =
            DURATION_TICKS.iter().map(|t| t.0).find(|t| *t >= largest && *t > low).unwrap_or(DURATION_TICKS[DURATION_TICKS.len() - 1].0);
        let lines = lines
            .into_iter()
            .map(|(idx, policy, mean)| Line {
                label: policy.to_string(),
                color: chart::color(idx),
                points: mean.iter().enumerate().map(|(i, v)| (v.max(low).log10(), i as f64)).collect(),
                reference: false,
            })
            .collect();
        let ticks: Vec<f64> =
            DURATION_TICKS.iter().map(|(s, _)| s.log10()).filter(|t| *t >= low.log10() - 1e-9 && *t <= high.log10() + 1e-9).collect();
        page.chart(&chart::line_chart(&LineChart {
            title: format!("{title}, distribution"),
            x: Axis {
                min: low.log10(),
                max: high.log10(),
                ticks: Some(ticks),
                format: Box::new(label_of),
                title: format!("{} (log scale; below {} drawn at it)", title.to_lowercase(), label_of(low.log10())),
            },
            y: Axis {
                ticks: Some(vec![0.0, 25.0, 50.0, 75.0, 100.0]),
                ..Axis::linear(format!("{what} within x (%)"), 0.0, 100.0, |v| format!("{v:.0}"))
            },
            lines,
        })?);
    }
    Ok(())
}

/// The label of a log-axis position (log10 of seconds).
fn label_of(log_seconds: f64) -> String {
    DURATION_TICKS
        .iter()
        .find(|(s, _)| (s.log10() - log_seconds).abs() < 1e-9)
        .map_or_else(|| human_seconds(10f64.powf(log_seconds)), |(_, label)| label.to_string())
}

/// `value` rounded up to 1, 2 or 5 × 10^k.
fn round_up(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 {
        return 0.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= value * (1.0 - 1e-12)).unwrap_or(10.0 * magnitude)
}

/// A tick label: no more decimals than the value needs.
fn short_number(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    let s = format!("{rounded:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

fn unit_name(unit: &str) -> &'static str {
    match unit {
        "ms" => "milliseconds",
        "m" => "minutes",
        "h" => "hours",
        "d" => "days",
        _ => "seconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_numbers() {
        for (v, expected) in [(0.0, 0.0), (0.7, 1.0), (1.0, 1.0), (13.0, 20.0), (51.0, 100.0), (240.0, 500.0)] {
            assert_eq!(round_up(v), expected, "{v}");
        }
        for (v, expected) in [(0.0, "0"), (2.5, "2.5"), (0.6000000000000001, "0.6"), (100.0, "100"), (-0.0001, "0")] {
            assert_eq!(short_number(v), expected, "{v}");
        }
    }

    #[test]
    fn seeds_are_named_briefly() {
        assert_eq!(seeds_phrase(&[0, 1, 2]), "3 seeds (0–2)");
        assert_eq!(seeds_phrase(&[7]), "1 seed (7)");
        assert_eq!(seeds_phrase(&[1, 5]), "2 seeds (1, 5)");
        assert_eq!(seeds_phrase(&[u64::MAX, 0]), format!("2 seeds ({}, 0)", u64::MAX));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }

    /// A comparison of `n_policies` policies over `n_seeds` seeds whose runs each have a full timeline of
    /// `resources` resources with GPU fragmentation.
    fn comparison(n_policies: usize, n_seeds: u64, resources: usize) -> Comparison {
        let names: Vec<String> = (0..resources).map(|r| format!("example.com/resource-{r}")).collect();
        let run = |policy: &str, seed: u64| {
            let mut timeline = Timeline::new(&names, true);
            for i in 0..1023 {
                let x = f64::from(i);
                let mut point = vec![x * 3600.0, (x * 0.37 + seed as f64).sin().abs() * 50.0, x];
                point.extend((0..resources).map(|r| ((x + r as f64) / 1023.0).min(1.0)));
                point.push(0.1);
                timeline.push(&point);
            }
            timeline.finish();
            let mut h = simulator::metrics::Histogram::default();
            (1..=5000u64).for_each(|v| h.record(v * v * 1000 + seed));
            Summary {
                policy: policy.to_string(),
                seed,
                jct: h.distribution(),
                queueing_delay: h.distribution(),
                allocation: names.iter().map(|n| (n.clone(), 0.5)).collect(),
                timeline,
                ..Summary::default()
            }
        };
        let policies: Vec<String> = (0..n_policies).map(|p| format!("policy-{p}")).collect();
        let seeds: Vec<u64> = (0..n_seeds).collect();
        simulator::compare(&policies, &seeds, None, |p, seed| Ok(run(&policies[p], seed)), &|| {}).unwrap()
    }

    #[test]
    fn the_largest_reports_stay_small() {
        // Twenty policies (the palette's size), eight resources, every timeline full: charts over time hold
        // 20 × 1,023 points each.
        let html = html(&Source::Compare(&comparison(20, 3, 8))).unwrap();
        assert!(html.len() < 5_000_000, "{} bytes", html.len());
        assert_eq!(html.matches("<svg ").count(), 8 + 1 + 1 + 2 + 5 + 8 + 2);
    }

    #[test]
    fn log_axis_labels() {
        assert_eq!(label_of(0.0), "1s");
        assert_eq!(label_of(3600f64.log10()), "1h");
        assert_eq!(label_of(2.0), "1.7m");
    }
}
