//! The README's chart: one horizontal bar per figure, the ratio of how much
//! better native is, on a log scale around 1×. Hand-written SVG.

use std::fmt::Write as _;

use super::report::{Machine, Row, ratio_text};

const WIDTH: f64 = 960.0;
/// Right edge of the case labels; the plot starts after it.
const LABELS: f64 = 470.0;
const PLOT_LEFT: f64 = 480.0;
const PLOT_RIGHT: f64 = WIDTH - 60.0;
const TOP: f64 = 64.0;
const ROW: f64 = 22.0;

pub fn chart(rows: &[Row], machine: &Machine) -> String {
    let bars: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.metric.chart)
        .filter_map(|r| r.ratio().map(|x| (r.label(), x)))
        .collect();
    let logs = bars.iter().map(|(_, x)| x.log10());
    let lo = logs.clone().fold(0.0, f64::min).floor();
    let hi = logs.fold(1.0, f64::max).ceil();
    let x = |ratio: f64| PLOT_LEFT + (ratio.log10() - lo) / (hi - lo) * (PLOT_RIGHT - PLOT_LEFT);
    let bottom = TOP + ROW * bars.len() as f64;
    let height = bottom + 40.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">mcptrace native against bpftrace: how many times better native is (log scale; left of 1× native is worse)</text>"#
    );
    let _ =
        writeln!(s, r##"<text x="10" y="42" fill="#555">{}</text>"##, escape(&machine.summary()));
    for k in lo as i32..=hi as i32 {
        let r = 10f64.powi(k);
        let gx = x(r);
        let stroke = if k == 0 { "#000" } else { "#ccc" };
        let label = if k >= 0 { format!("{r:.0}×") } else { format!("{r}×") };
        let _ = writeln!(
            s,
            r#"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{bottom:.1}" stroke="{stroke}"/>"#,
            TOP - 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            bottom + 16.0
        );
    }
    for (i, (label, ratio)) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let (one, end) = (x(1.0), x(*ratio));
        let (left, width) = (one.min(end), (end - one).abs().max(1.0));
        let fill = if *ratio >= 1.0 { "#2e7d32" } else { "#c62828" };
        let _ = writeln!(
            s,
            r#"<text x="{LABELS}" y="{:.1}" text-anchor="end">{}</text>"#,
            y + 14.0,
            escape(label)
        );
        let _ = writeln!(
            s,
            r#"<rect class="bar" x="{left:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{fill}"/>"#,
            y + 3.0,
            ROW - 6.0
        );
        let (tx, anchor) = if *ratio >= 1.0 { (end + 4.0, "start") } else { (end - 4.0, "end") };
        let _ = writeln!(
            s,
            r#"<text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            y + 14.0,
            ratio_text(Some(*ratio))
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{
        cases::{Better, Metric},
        measure::Stats,
    };

    fn row(label: &'static str, chart: bool, n: f64, b: f64) -> Row {
        let s = |v| Stats { median: v, min: v, max: v, runs: vec![v] };
        Row {
            case: "case <a> & b".into(),
            metric: Metric { label, unit: "ms", better: Better::Lower, chart },
            native: s(n),
            bpftrace: s(b),
        }
    }

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            model: "CPU \"X\"".into(),
            kernel: "6.18".into(),
            bpftrace: "bpftrace v0.17.0".into(),
            date: "2026-12-01".into(),
            runs: 5,
        }
    }

    #[test]
    fn one_bar_per_charted_ratio_on_each_side_of_one() {
        let rows = [
            row("faster", true, 10.0, 500.0),
            row("slower", true, 10.0, 7.0),
            row("not charted", false, 10.0, 20.0),
            row("no ratio", true, 0.0, 0.0),
        ];
        let svg = chart(&rows, &machine());
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert!(svg.contains("#2e7d32") && svg.contains("#c62828"));
        // Decades from 0.1× to 100× frame 0.7× and 50×.
        for tick in ["0.1×", "1×", "10×", "100×"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick} missing:\n{svg}");
        }
        assert!(svg.contains("case &lt;a&gt; &amp; b — faster"));
        assert!(svg.contains("CPU &quot;X&quot;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn no_bars_still_draws_a_frame() {
        let svg = chart(&[], &machine());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
