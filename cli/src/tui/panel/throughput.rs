//! Throughput on one time axis: accepted and rejected at the collectors, inserted as
//! PostgreSQL counts it, dead-lettered, and a running `ptrack load`'s sent rate. The
//! current figures are written above the chart; expanded, each collector and processor
//! replica too (a processor's rows and dead letters by its own `/metrics`).

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Color,
    symbols::Marker,
    text::{Line, Span},
    widgets::{Axis, Chart, Dataset, GraphType, Paragraph},
};

use super::{block, bold, fg, rate, source_error};
use crate::tui::{
    app::{App, Panel, Series},
    event::SourceId,
};

/// A chart line: its name, its colour, its (seconds before now, per second) points.
type ChartLine = (&'static str, Color, Vec<(f64, f64)>);

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = block(app, Panel::Throughput, "per second");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let t = &app.throughput;
    let (inserted, inserted_from) = app.inserted();
    let (dead_lettered, dead_from) = app.dead_lettered();

    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("accepted {}", rate(t.accepted.last())),
            fg(app, Color::Green),
        ),
        Span::raw("  "),
        Span::styled(
            format!("rejected {}", rate(t.rejected.last())),
            fg(app, Color::Yellow),
        ),
        Span::raw("  "),
        Span::styled(
            format!("inserted {}", rate(inserted.last())),
            fg(app, Color::Cyan),
        ),
        Span::raw("  "),
        Span::styled(
            format!("dead-lettered {}", rate(dead_lettered.last())),
            fg(app, Color::Red),
        ),
    ])];
    lines.push(Line::from(format!(
        "topic in {}  out {}",
        rate(t.produced.last()),
        rate(t.consumed.last())
    )));
    lines.push(Line::from(format!(
        "inserted from {inserted_from}, dead letters from {dead_from}"
    )));
    if let Some(load) = app.live_load() {
        let target = load
            .target_rps
            .map_or_else(String::new, |r| format!(" (target {r:.0}/s)"));
        lines.push(Line::from(Span::styled(
            format!(
                "ptrack load requests {}{target}  corrected p99 {:.1}ms",
                rate(Some(load.sent_rps)),
                load.corrected_p99_ms
            ),
            fg(app, Color::Magenta),
        )));
    }
    if app.ui.expanded == Some(Panel::Throughput) {
        for (name, replica) in &t.replicas {
            lines.push(Line::from(format!(
                "  {name}: accepted {}  rejected {}",
                rate(replica.accepted.last()),
                rate(replica.rejected.last())
            )));
        }
        for (name, replica) in &t.processors {
            lines.push(Line::from(format!(
                "  {name}: inserted {}  dead-lettered {}  (its /metrics)",
                rate(replica.inserted.last()),
                rate(replica.dead_lettered.last())
            )));
        }
    }
    for source in [
        SourceId::Collectors,
        SourceId::Database,
        SourceId::Broker,
        SourceId::Processors,
    ] {
        if let Some(line) = source_error(app, source) {
            lines.push(line);
        }
    }
    let [text_area, charts_area] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);
    // A running load's corrected p99 under the rates, on the same time axis.
    let (chart_area, p99_area) = if t.load_p99_ms.is_empty() {
        (charts_area, None)
    } else {
        let [rates, p99] =
            Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)])
                .areas(charts_area);
        (rates, Some(p99))
    };

    let start = app.window_start();
    let points = |series: &Series| -> Vec<(f64, f64)> {
        series
            .since(start)
            .map(|(at, v)| (-(app.now.saturating_duration_since(at).as_secs_f64()), v))
            .collect()
    };
    let mut sets: Vec<ChartLine> = vec![
        ("accepted", Color::Green, points(&t.accepted)),
        ("rejected", Color::Yellow, points(&t.rejected)),
        ("inserted", Color::Cyan, points(inserted)),
        ("dead-lettered", Color::Red, points(dead_lettered)),
    ];
    if !t.load_sent.is_empty() {
        sets.push(("load requests", Color::Magenta, points(&t.load_sent)));
    }
    let top = sets
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|(_, v)| *v))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let window = app.window.as_secs_f64();
    let x_axis = || {
        Axis::default().bounds([-window, 0.0]).labels([
            Span::raw(format!(
                "-{}",
                crate::runtime::human_duration(app.window.as_secs())
            )),
            Span::raw("now"),
        ])
    };
    let datasets: Vec<Dataset> = sets
        .iter()
        .map(|(name, color, data)| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(fg(app, *color))
                .data(data)
        })
        .collect();
    let chart = Chart::new(datasets).x_axis(x_axis()).y_axis(
        Axis::default()
            .bounds([0.0, top])
            .labels([Span::raw("0"), Span::styled(rate(Some(top)), bold(app))]),
    );
    frame.render_widget(chart, chart_area);

    if let Some(area) = p99_area {
        let data = points(&t.load_p99_ms);
        let top = data.iter().map(|(_, v)| *v).fold(1.0_f64, f64::max) * 1.1;
        let dataset = Dataset::default()
            .name("load corrected p99")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(fg(app, Color::Magenta))
            .data(&data);
        let chart = Chart::new(vec![dataset]).x_axis(x_axis()).y_axis(
            Axis::default().bounds([0.0, top]).labels([
                Span::raw("0"),
                Span::styled(format!("p99 {top:.0}ms"), bold(app)),
            ]),
        );
        frame.render_widget(chart, area);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::tui::{
        event::{
            CollectorCounts, Event, InsertedRows, LoadFigures, ProcessorCounts, ProcessorFigures,
            ReplicaCounts,
        },
        panel::testing::render,
    };

    fn counts(at: Instant, a: [u64; 2], r: [u64; 2]) -> Event {
        Event::Collectors(CollectorCounts {
            at,
            replicas: (0..2)
                .map(|i| ReplicaCounts {
                    replica: format!("collector-{}", i + 1),
                    accepted: a[i],
                    rejected: r[i],
                })
                .collect(),
        })
    }

    fn processors(at: Instant, rows: [u64; 2], dead: [u64; 2]) -> Event {
        Event::Processors(ProcessorCounts {
            at,
            replicas: (0..2)
                .map(|i| ProcessorFigures {
                    replica: format!("processor-{}", i + 1),
                    rows_inserted: rows[i],
                    duplicates_skipped: 0,
                    dead_lettered: dead[i],
                    partitions: vec![],
                })
                .collect(),
        })
    }

    #[test]
    fn shows_the_summed_rates_and_each_replica_when_expanded() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        app.update(counts(t0, [0, 0], [0, 0]));
        app.update(Event::Inserted(InsertedRows { at: t0, rows: 100 }));
        let t1 = t0 + Duration::from_secs(2);
        app.update(counts(t1, [1000, 600], [10, 0]));
        app.update(Event::Inserted(InsertedRows { at: t1, rows: 1700 }));
        app.update(Event::Load(LoadFigures {
            at: t1,
            pid: 42,
            target_rps: Some(800.0),
            sent_rps: 799.0,
            corrected_p99_ms: 12.5,
        }));
        let text = render(100, 24, |f, a| draw(f, a, &app));
        assert!(text.contains("accepted 800/s"), "{text}");
        assert!(text.contains("rejected 5.0/s"), "{text}");
        assert!(text.contains("inserted 800/s"), "{text}");
        assert!(
            text.contains("ptrack load requests 799/s (target 800/s)"),
            "{text}"
        );
        assert!(text.contains("corrected p99 12.5ms"), "{text}");
        assert!(text.contains("p99 14ms"), "the p99 chart's scale: {text}");
        assert!(
            text.contains("inserted from PostgreSQL stats, dead letters from dlq topic"),
            "{text}"
        );
        assert!(!text.contains("collector-2"), "{text}");

        // The processors' own counters: each replica's rates when expanded.
        app.update(processors(t0, [0, 0], [0, 0]));
        app.update(processors(t1, [1200, 400], [4, 0]));
        app.ui.expanded = Some(Panel::Throughput);
        let text = render(100, 16, |f, a| draw(f, a, &app));
        assert!(text.contains("collector-1: accepted 500/s"), "{text}");
        assert!(text.contains("collector-2: accepted 300/s"), "{text}");
        assert!(
            text.contains("processor-1: inserted 600/s  dead-lettered 2.0/s"),
            "{text}"
        );
        assert!(text.contains("processor-2: inserted 200/s"), "{text}");
    }
}
