//! `--report FILE.svg|html`: the run as a picture, drawn by hand as inline SVG so the
//! file opens anywhere with no network: the rate over time against the target, the
//! corrected latency percentiles over time, and the latency percentile curve (x axis
//! `1 / (1 - p)` on a log scale, as HdrHistogram's plotter draws it), under the run's
//! settings.

use std::fmt::Write as _;

use super::report::{Curve, Report};

const WIDTH: f64 = 960.0;
const PANEL_H: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 90.0;
const GAP: f64 = 70.0;

/// A chart area and its data ranges.
struct Panel {
    top: f64,
    x_max: f64,
    y_max: f64,
}

impl Panel {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v / self.x_max).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        self.top + PANEL_H - (v / self.y_max).clamp(0.0, 1.0) * PANEL_H
    }
}

/// A round step so that `max` spans about five of them.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn nice_max(max: f64) -> f64 {
    let step = nice_step(max);
    ((max / step).ceil() * step).max(step)
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"];

fn polyline(out: &mut String, points: &[(f64, f64)], color: &str, dashed: bool) {
    if points.is_empty() {
        return;
    }
    let coords: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let dash = if dashed {
        " stroke-dasharray=\"6 4\""
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{dash} points=\"{}\"/>",
        coords.join(" ")
    );
}

fn frame(out: &mut String, panel: &Panel, title: &str, y_label: &str) {
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let y0 = panel.top;
    let _ = writeln!(
        out,
        "<text x=\"{x0}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
        y0 - 10.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        "<rect x=\"{x0}\" y=\"{y0}\" width=\"{:.1}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#999\"/>",
        x1 - x0
    );
    let step = nice_step(panel.y_max);
    let mut v = 0.0;
    while v <= panel.y_max + step * 1e-6 {
        let y = panel.y(v);
        let _ = writeln!(
            out,
            "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            x0 - 5.0,
            y + 4.0,
            trim_number(v)
        );
        v += step;
    }
    let _ = writeln!(
        out,
        "<text x=\"15\" y=\"{:.1}\" font-size=\"11\" transform=\"rotate(-90 15 {:.1})\" text-anchor=\"middle\">{}</text>",
        y0 + PANEL_H / 2.0,
        y0 + PANEL_H / 2.0,
        escape(y_label)
    );
}

fn x_ticks(out: &mut String, panel: &Panel, ticks: &[(f64, String)], label: &str) {
    let bottom = panel.top + PANEL_H;
    for (v, text) in ticks {
        let x = panel.x(*v);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"#eee\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            panel.top,
            bottom + 15.0,
            escape(text)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
        (LEFT + WIDTH - RIGHT) / 2.0,
        bottom + 32.0,
        escape(label)
    );
}

fn legend(out: &mut String, panel: &Panel, entries: &[(&str, &str, bool)]) {
    for (i, (name, color, dashed)) in entries.iter().enumerate() {
        let y = panel.top + 15.0 + i as f64 * 18.0;
        let x = WIDTH - RIGHT + 12.0;
        let dash = if *dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            x + 24.0,
            x + 30.0,
            y + 4.0,
            escape(name)
        );
    }
}

fn trim_number(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

/// Where a percentile goes on the curve's x axis: `log10(1 / (1 - p))`.
fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-6);
    (1.0 / rest).log10()
}

/// The whole picture as one SVG document.
pub fn svg(report: &Report) -> String {
    let height = TOP + 3.0 * (PANEL_H + GAP) + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"13\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    let s = &report.settings;
    let headline = match report.target_rps {
        Some(t) => format!(
            "ptrack load → {}: target {t:.0} req/s, sent {:.1} req/s, {} requests, {} failed{}",
            s.target,
            report.sent_rps,
            report.requests,
            report.requests_failed,
            if report.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        ),
        None => format!(
            "ptrack load → {}: {:.1} req/s at most, {} requests, {} failed",
            s.target, report.sent_rps, report.requests, report.requests_failed
        ),
    };
    let details = format!(
        "{}; {} connections, {} users, batches {}, seed {}, timeout {}",
        s.plan, s.connections, s.users, s.batching, s.seed, s.timeout
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"28\" font-size=\"15\" font-weight=\"bold\">{}</text>\
         <text x=\"{LEFT}\" y=\"50\" font-size=\"12\">{}</text>",
        escape(&headline),
        escape(&details)
    );

    let t_max = report
        .timeline
        .last()
        .map_or(1.0, |p| p.t)
        .max(report.duration_s)
        .max(0.1);
    let time_ticks: Vec<(f64, String)> = {
        let step = nice_step(t_max);
        (0..)
            .map(|i| i as f64 * step)
            .take_while(|v| *v <= t_max)
            .map(|v| (v, format!("{}s", trim_number(v))))
            .collect()
    };

    // Rate over time.
    let rate_max = report
        .timeline
        .iter()
        .map(|p| p.rps.max(p.target_rps.unwrap_or(0.0)))
        .fold(1.0, f64::max);
    let rate = Panel {
        top: TOP,
        x_max: t_max,
        y_max: nice_max(rate_max * 1.05),
    };
    frame(&mut out, &rate, "Answered requests per second", "req/s");
    x_ticks(&mut out, &rate, &time_ticks, "time since start");
    let achieved: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .map(|p| (rate.x(p.t), rate.y(p.rps)))
        .collect();
    polyline(&mut out, &achieved, COLORS[0], false);
    let target: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .filter_map(|p| Some((rate.x(p.t), rate.y(p.target_rps?))))
        .collect();
    polyline(&mut out, &target, COLORS[3], true);
    // The first slice ends one slice width after the start.
    let width = report.timeline.first().map_or(1.0, |p| p.t);
    let errors: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .map(|p| (rate.x(p.t), rate.y(p.errors as f64 / width)))
        .collect();
    polyline(&mut out, &errors, COLORS[1], false);
    legend(
        &mut out,
        &rate,
        &[
            ("answered", COLORS[0], false),
            ("target", COLORS[3], true),
            ("failed", COLORS[1], false),
        ],
    );

    // Latency over time.
    let lat_max = report
        .timeline
        .iter()
        .map(|p| p.max_ms)
        .fold(0.001, f64::max);
    let latency = Panel {
        top: TOP + PANEL_H + GAP,
        x_max: t_max,
        y_max: nice_max(lat_max * 1.05),
    };
    frame(
        &mut out,
        &latency,
        "Corrected latency over time (from when each request was due)",
        "ms",
    );
    x_ticks(&mut out, &latency, &time_ticks, "time since start");
    for (i, pick) in [
        (|p: &super::report::Point| p.p50_ms) as fn(&super::report::Point) -> f64,
        |p| p.p99_ms,
        |p| p.max_ms,
    ]
    .iter()
    .enumerate()
    {
        let points: Vec<(f64, f64)> = report
            .timeline
            .iter()
            .map(|p| (latency.x(p.t), latency.y(pick(p))))
            .collect();
        polyline(&mut out, &points, COLORS[i], false);
    }
    legend(
        &mut out,
        &latency,
        &[
            ("p50", COLORS[0], false),
            ("p99", COLORS[1], false),
            ("max", COLORS[2], false),
        ],
    );

    // The percentile curve.
    let curve_max = report
        .curve_corrected
        .iter()
        .chain(&report.curve_uncorrected)
        .map(|(_, ms)| *ms)
        .fold(0.001, f64::max);
    // As many nines as the number of requests resolves; the maximum sits at the end.
    let nines_max = (report.requests.max(1) as f64)
        .log10()
        .ceil()
        .clamp(2.0, 6.0);
    let curve = Panel {
        top: TOP + 2.0 * (PANEL_H + GAP),
        x_max: nines_max,
        y_max: nice_max(curve_max * 1.05),
    };
    frame(&mut out, &curve, "Latency by percentile", "ms");
    let ticks: Vec<(f64, String)> = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .take(nines_max as usize + 1)
        .enumerate()
        .map(|(i, label)| (i as f64, (*label).to_owned()))
        .collect();
    x_ticks(&mut out, &curve, &ticks, "percentile");
    let draw = |out: &mut String, points: &Curve, color: &str| {
        let points: Vec<(f64, f64)> = points
            .iter()
            .map(|(p, ms)| (curve.x(nines(*p)), curve.y(*ms)))
            .collect();
        polyline(out, &points, color, false);
    };
    draw(&mut out, &report.curve_corrected, COLORS[0]);
    draw(&mut out, &report.curve_uncorrected, COLORS[2]);
    legend(
        &mut out,
        &curve,
        &[
            ("corrected", COLORS[0], false),
            ("uncorrected", COLORS[2], false),
        ],
    );
    out.push_str("</svg>\n");
    out
}

/// A page with the picture and the text report; no scripts, no links out.
pub fn html(report: &Report) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ptrack load report</title>\
         <style>body{{font-family:sans-serif;margin:24px;color:#222}}\
         pre{{background:#f6f6f6;padding:12px;overflow:auto}}</style></head>\n<body>\n\
         <h1>ptrack load</h1>\n{}\n<h2>Report</h2>\n<pre>{}</pre>\n</body></html>\n",
        svg(report),
        escape(&report.text())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_get_round_numbers() {
        assert_eq!(nice_step(1000.0), 200.0);
        assert_eq!(nice_max(4321.0), 5000.0);
        assert_eq!(nice_step(0.9), 0.2);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert_eq!(escape("a<b&c"), "a&lt;b&amp;c");
    }
}
