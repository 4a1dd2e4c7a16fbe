//! Results as a console table, a README table, CSV and JSON, each naming the
//! machine they were measured on.

use std::fmt::Write as _;

use super::{
    cases::{Better, Metric},
    goals,
    json::quote,
    measure::Stats,
};
use crate::shell;

pub const START: &str = "<!-- bench:start -->";
pub const END: &str = "<!-- bench:end -->";

/// One figure of one case, both backends.
pub struct Row {
    pub case: String,
    pub metric: Metric,
    pub native: Stats,
    pub bpftrace: Stats,
}

impl Row {
    pub fn label(&self) -> String {
        match self.metric.label {
            "" => self.case.clone(),
            m => format!("{} — {m}", self.case),
        }
    }

    /// How many times better native is: bpftrace/native for costs,
    /// native/bpftrace for rates. None for reference figures and where a
    /// side is zero (no lost events) or missing.
    pub fn ratio(&self) -> Option<f64> {
        let (n, b) = (self.native.median, self.bpftrace.median);
        let r = match self.metric.better {
            Better::Lower => b / n,
            Better::Higher => n / b,
            Better::Neither => return None,
        };
        (r.is_finite() && r > 0.0).then_some(r)
    }
}

/// Where the figures come from.
pub struct Machine {
    pub cpus: usize,
    pub model: String,
    pub kernel: String,
    pub bpftrace: String,
    pub date: String,
    pub runs: usize,
}

impl Machine {
    pub fn probe(runs: usize) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()))
            .unwrap_or("unknown CPU");
        let out = |p: &str, a: &[&str]| shell::output(p, a).unwrap_or_default().trim().to_string();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            model: model.to_string(),
            kernel: out("uname", &["-r"]),
            bpftrace: out("bpftrace", &["--version"]),
            date: out("date", &["-u", "+%Y-%m-%d"]),
            runs,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{}, {} CPUs ({}), kernel {}, {}, {} run{} per backend",
            self.date,
            self.cpus,
            self.model,
            self.kernel,
            self.bpftrace,
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        )
    }
}

/// 1234567 as "1.23M", 12345 as "12.3k", 31.4 as "31.4", 240.2 as "240".
pub fn figure(v: f64) -> String {
    match v.abs() {
        a if a.is_nan() => "–".into(),
        a if a >= 1e6 => format!("{:.2}M", v / 1e6),
        a if a >= 1e4 => format!("{:.1}k", v / 1e3),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 || a == 0.0 => format!("{v:.1}").trim_end_matches(".0").to_string(),
        _ => format!("{v:.2}"),
    }
}

pub fn ratio_text(r: Option<f64>) -> String {
    match r {
        None => "–".into(),
        Some(r) if r >= 100.0 => format!("{r:.0}×"),
        Some(r) => format!("{r:.1}×"),
    }
}

fn cell(s: &Stats, unit: &str) -> String {
    // A figure one backend does not have (native's phases).
    if s.median.is_nan() {
        return "–".into();
    }
    // Long times read in seconds.
    let (scale, unit) = if unit == "ms" && s.median >= 1e4 { (1e-3, "s") } else { (1.0, unit) };
    // A factor reads 2.1×, a quantity 2.1 ms.
    let gap = if unit == "×" { "" } else { " " };
    let median = format!("{}{gap}{unit}", figure(s.median * scale));
    if s.min == s.max {
        median
    } else {
        format!("{median} ({}–{})", figure(s.min * scale), figure(s.max * scale))
    }
}

/// The console table.
pub fn text(rows: &[Row], machine: &Machine) -> String {
    let mut t = format!("{}\n", machine.summary());
    let w = rows.iter().map(|r| r.label().chars().count()).max().unwrap_or(4).max(4);
    let _ = writeln!(t, "{:<w$}  {:>28}  {:>28}  {:>7}", "case", "native", "bpftrace", "ratio");
    for r in rows {
        let _ = writeln!(
            t,
            "{:<w$}  {:>28}  {:>28}  {:>7}",
            r.label(),
            cell(&r.native, r.metric.unit),
            cell(&r.bpftrace, r.metric.unit),
            ratio_text(r.ratio())
        );
    }
    t.push_str("\nGoals:\n");
    for v in goals::judge(rows) {
        let _ = writeln!(t, "- {} [{}]: {}", v.goal, outcome(v.met), v.detail);
    }
    t
}

fn outcome(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "short",
        None => "not measured",
    }
}

/// The README block: how it was measured, the table, the chart.
pub fn markdown(rows: &[Row], machine: &Machine) -> String {
    let mut t = format!(
        "Measured by `cargo xtask bench` on {}. Medians of alternating runs after a warm-up, \
         spread (min–max) in brackets. The ratio is how many times better native is \
         (bpftrace/native for times and sizes, native/bpftrace for rates): below 1× native is \
         worse. bpftrace is the bpftrace CLI run with the same program.\n\n",
        machine.summary()
    );
    t.push_str("| case | native | bpftrace | ratio |\n| --- | --- | --- | --- |\n");
    for r in rows {
        let ratio = match r.ratio() {
            // Bold where native is worse by what the table shows (0.9× or less).
            Some(x) if x < 0.95 => format!("**{}**", ratio_text(Some(x))),
            x => ratio_text(x),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {ratio} |",
            r.label().replace('|', "\\|"),
            cell(&r.native, r.metric.unit),
            cell(&r.bpftrace, r.metric.unit),
        );
    }
    t.push_str("\n![bpftrace/native ratio per case, log scale](docs/bench.svg)\n");
    t.push_str("\nThe performance goals, judged from the same run:\n\n");
    for v in goals::judge(rows) {
        let _ = writeln!(t, "- **{}: {}.** {}.", v.goal, outcome(v.met), v.detail);
    }
    t
}

pub fn csv(rows: &[Row], machine: &Machine) -> String {
    let mut t = String::from(
        "case,metric,unit,better,native_median,native_min,native_max,\
         bpftrace_median,bpftrace_min,bpftrace_max,ratio,date,cpus,cpu_model,kernel,bpftrace_version,runs\n",
    );
    for r in rows {
        let fields = [
            r.case.clone(),
            r.metric.label.into(),
            r.metric.unit.into(),
            format!("{:?}", r.metric.better).to_lowercase(),
            r.native.median.to_string(),
            r.native.min.to_string(),
            r.native.max.to_string(),
            r.bpftrace.median.to_string(),
            r.bpftrace.min.to_string(),
            r.bpftrace.max.to_string(),
            r.ratio().map(|x| x.to_string()).unwrap_or_default(),
            machine.date.clone(),
            machine.cpus.to_string(),
            machine.model.clone(),
            machine.kernel.clone(),
            machine.bpftrace.clone(),
            machine.runs.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(t, "{}", line.join(","));
    }
    t
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.into() }
}

pub fn json(rows: &[Row], machine: &Machine) -> String {
    let num = |v: f64| if v.is_finite() { v.to_string() } else { "null".into() };
    let stats = |s: &Stats| {
        let runs: Vec<String> = s.runs.iter().map(|&v| num(v)).collect();
        format!(
            r#"{{"median": {}, "min": {}, "max": {}, "runs": [{}]}}"#,
            num(s.median),
            num(s.min),
            num(s.max),
            runs.join(", ")
        )
    };
    let rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                r#"    {{"case": {}, "metric": {}, "unit": {}, "better": {}, "native": {}, "bpftrace": {}, "ratio": {}}}"#,
                quote(&r.case),
                quote(r.metric.label),
                quote(r.metric.unit),
                quote(&format!("{:?}", r.metric.better).to_lowercase()),
                stats(&r.native),
                stats(&r.bpftrace),
                r.ratio().map_or("null".into(), num)
            )
        })
        .collect();
    format!(
        "{{\n  \"machine\": {{\"date\": {}, \"cpus\": {}, \"cpu_model\": {}, \"kernel\": {}, \"bpftrace\": {}, \"runs\": {}}},\n  \"rows\": [\n{}\n  ]\n}}\n",
        quote(&machine.date),
        machine.cpus,
        quote(&machine.model),
        quote(&machine.kernel),
        quote(&machine.bpftrace),
        machine.runs,
        rows.join(",\n")
    )
}

/// `readme` with the text between the bench markers replaced by `block`.
pub fn replace_block(readme: &str, block: &str) -> Result<String, String> {
    let missing = || format!("README.md has no `{START}` … `{END}` block");
    let start = readme.find(START).ok_or_else(missing)? + START.len();
    let end = start + readme[start..].find(END).ok_or_else(missing)?;
    Ok(format!("{}\n{}\n{}", &readme[..start], block.trim_end(), &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::json;

    fn row(better: Better, n: f64, b: f64) -> Row {
        let s = |v| Stats { median: v, min: v, max: v, runs: vec![v] };
        Row {
            case: "a, \"quoted\" case".into(),
            metric: Metric { label: "", unit: "ms", better, chart: true },
            native: s(n),
            bpftrace: s(b),
        }
    }

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            model: "Some CPU".into(),
            kernel: "6.18".into(),
            bpftrace: "bpftrace v0.17.0".into(),
            date: "2026-12-01".into(),
            runs: 5,
        }
    }

    #[test]
    fn ratios_say_how_much_better_native_is() {
        assert_eq!(row(Better::Lower, 10.0, 50.0).ratio(), Some(5.0));
        assert_eq!(row(Better::Higher, 10.0, 50.0).ratio(), Some(0.2));
        assert_eq!(row(Better::Neither, 10.0, 50.0).ratio(), None);
        assert_eq!(row(Better::Lower, 0.0, 0.0).ratio(), None);
    }

    #[test]
    fn csv_quotes_fields_and_has_one_line_per_row() {
        let t = csv(&[row(Better::Lower, 10.0, 50.0)], &machine());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("\"a, \"\"quoted\"\" case\",,ms,lower,10,10,10,50,50,50,5,"));
        assert_eq!(lines[0].split(',').count(), 17);
    }

    #[test]
    fn json_parses_back() {
        let t = json(&[row(Better::Lower, 10.0, 50.0), row(Better::Lower, 0.0, 0.0)], &machine());
        let v = json::parse(&t).unwrap();
        assert_eq!(v.get("machine").get("kernel").as_str(), Some("6.18"));
        let rows = v.get("rows").as_array();
        assert_eq!(rows[0].get("case").as_str(), Some("a, \"quoted\" case"));
        assert_eq!(rows[0].get("ratio"), &json::Value::Number(5.0));
        assert_eq!(rows[1].get("ratio"), &json::Value::Null);
        assert_eq!(rows[0].get("native").get("runs").as_array(), &[json::Value::Number(10.0)]);
    }

    #[test]
    fn readme_block_is_replaced_and_the_rest_kept() {
        let readme = format!("# T\n\n## Measured figures\n\nintro\n{START}\nold\n{END}\nafter\n");
        let new = replace_block(&readme, "new table\n").unwrap();
        assert_eq!(
            new,
            format!("# T\n\n## Measured figures\n\nintro\n{START}\nnew table\n{END}\nafter\n")
        );
        assert_eq!(replace_block(&new, "new table").unwrap(), new);
        assert!(replace_block("# no markers", "x").is_err());
    }

    #[test]
    fn markdown_marks_native_losses() {
        let t = markdown(&[row(Better::Lower, 50.0, 10.0)], &machine());
        assert!(t.contains("| **0.2×** |"), "{t}");
        assert!(t.contains("docs/bench.svg"));
    }

    #[test]
    fn figures_are_short() {
        assert_eq!(figure(1_234_567.0), "1.23M");
        assert_eq!(figure(12_345.0), "12.3k");
        assert_eq!(figure(240.4), "240");
        assert_eq!(figure(31.44), "31.4");
        assert_eq!(figure(20.0), "20");
        assert_eq!(figure(0.0), "0");
        assert_eq!(figure(2.345), "2.35");
        let s = |median, min, max| Stats { median, min, max, runs: vec![] };
        assert_eq!(cell(&s(2.5, 2.5, 2.5), "×"), "2.50×");
        assert_eq!(cell(&s(31.0, 30.0, 40.0), "ms"), "31 ms (30–40)");
        assert_eq!(cell(&s(27_600.0, 27_000.0, 28_000.0), "ms"), "27.6 s (27–28)");
    }
}
