//! Consumer lag: the group's verdict, the total with a sparkline over the window and the
//! time to drain, and each partition's lag, offsets and verdict.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Paragraph, Row, Sparkline, Table},
};

use super::{block, bold, duration, source_error, status_style};
use crate::tui::{
    app::{App, Drain, Panel},
    event::{LagOrigin, SourceId},
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = block(app, Panel::Lag, &format!("window {}", window(app)));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let group = app.group_verdict();
    let mut head = vec![Line::from(vec![
        Span::styled(group.status.to_string(), status_style(app, group.status)),
        Span::raw(format!("  {}", group.reason)),
    ])];
    let total = app
        .total_lag()
        .map_or_else(|| "-".to_owned(), |t| t.to_string());
    let drain = match app.drain() {
        Drain::Unknown => "drain time unknown".to_owned(),
        Drain::Drained => "drained".to_owned(),
        Drain::In(d) => format!("drains in {}", duration(d)),
        Drain::NotDraining => "not draining".to_owned(),
    };
    let dlq = app
        .lag
        .dlq
        .map_or_else(|| "dlq -".to_owned(), |d| format!("dlq depth {}", d.depth));
    head.push(Line::from(vec![
        Span::styled(format!("total lag {total}"), bold(app)),
        Span::raw(format!("  {drain}  {dlq}")),
    ]));
    let from_processors = app.lag.origin == Some(LagOrigin::Processors)
        || (app.setup.broker.is_none() && app.lag.origin.is_none());
    if from_processors {
        head.push(Line::from(
            "broker not reachable from here: the processors' own lag figures \
             (progress = messages their holder finished)",
        ));
        if app.setup.processors == 0 && app.lag.origin.is_none() {
            head.push(Line::from(
                "no processor reachable either: pass --brokers or --processor-url",
            ));
        }
        if let Some(line) = source_error(app, SourceId::Processors) {
            head.push(line);
        }
    } else if let Some(line) = source_error(app, SourceId::Broker) {
        head.push(line);
    }
    let head_height = head.len() as u16;
    let [head_area, spark_area, table_area] = Layout::vertical([
        Constraint::Length(head_height),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);

    let width = spark_area.width as usize;
    let points: Vec<u64> = app
        .lag
        .total
        .since(app.window_start())
        .map(|(_, v)| v.max(0.0) as u64)
        .collect();
    let shown = &points[points.len().saturating_sub(width)..];
    frame.render_widget(Sparkline::default().data(shown), spark_area);

    let rows = app
        .partitions()
        .into_iter()
        .map(|(partition, last, verdict)| {
            let (lag, committed, high) = match last {
                Some(s) if from_processors => (
                    s.lag.to_string(),
                    app.lag
                        .held
                        .get(&partition)
                        .map_or_else(String::new, |h| h.replica.clone()),
                    String::new(),
                ),
                Some(s) => (
                    s.lag.to_string(),
                    s.committed
                        .map_or_else(|| "none".to_owned(), |c| c.to_string()),
                    s.committed
                        .map_or_else(|| "-".to_owned(), |c| (c + s.lag).to_string()),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            Row::new(vec![
                partition.to_string(),
                lag,
                committed,
                high,
                verdict.status.to_string(),
                verdict.reason,
            ])
            .style(status_style(app, verdict.status))
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(9),
            // The holder's name takes the offsets' room.
            Constraint::Length(if from_processors { 16 } else { 10 }),
            Constraint::Length(if from_processors { 0 } else { 10 }),
            Constraint::Length(9),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(if from_processors {
            ["part", "lag", "held by", "", "verdict", "why"]
        } else {
            ["part", "lag", "committed", "end", "verdict", "why"]
        })
        .style(bold(app)),
    );
    frame.render_widget(table, table_area);
}

fn window(app: &App) -> String {
    crate::runtime::human_duration(app.window.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::tui::{
        event::{DlqOffsets, Event, LagSnapshot, PartitionOffsets},
        panel::testing::render,
    };

    fn snapshot(at: Instant, committed: [i64; 2], high: [i64; 2]) -> Event {
        Event::Lag(LagSnapshot {
            at,
            partitions: (0..2)
                .map(|i| PartitionOffsets {
                    partition: i as i32,
                    low_watermark: 0,
                    high_watermark: high[i],
                    committed: Some(committed[i]),
                })
                .collect(),
            dlq: Some(DlqOffsets {
                high_watermark: 7,
                depth: 7,
            }),
            origin: LagOrigin::Broker,
        })
    }

    #[test]
    fn shows_total_per_partition_lag_verdicts_and_drain_time() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        // Partition 0 drains 100/s; partition 1 has not committed for 20 s.
        for i in 0..=20u64 {
            let at = t0 + Duration::from_secs(i);
            let c0 = 1000 + 100 * i as i64;
            app.update(snapshot(at, [c0, 500], [3000, 542]));
        }
        let text = render(100, 14, |f, a| draw(f, a, &app));
        assert!(text.contains("total lag 42"), "{text}");
        assert!(text.contains("■ STALLED"), "{text}");
        assert!(text.contains("partition 1: 42 waiting"), "{text}");
        assert!(text.contains("dlq depth 7"), "{text}");
        assert!(text.contains("drains in"), "{text}");
        assert!(text.contains("3000"), "end offset of partition 0: {text}");
    }

    #[test]
    fn a_silent_broker_is_said_with_its_reason() {
        let mut app = App::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            Instant::now(),
        );
        app.setup.broker = Some("127.0.0.1:9092".into());
        app.update(Event::SourceError {
            source: SourceId::Broker,
            error: "connection refused".into(),
        });
        let text = render(100, 10, |f, a| draw(f, a, &app));
        assert!(
            text.contains("broker: no answer: connection refused, retrying"),
            "{text}"
        );
    }

    #[test]
    fn without_a_broker_it_says_the_figures_are_the_processors_and_who_holds_what() {
        use crate::tui::event::{ProcessorCounts, ProcessorFigures};
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        let text = render(100, 10, |f, a| draw(f, a, &app));
        assert!(text.contains("broker not reachable from here"), "{text}");
        assert!(text.contains("no processor reachable either"), "{text}");
        app.setup.processors = 1;
        for n in 0..3u64 {
            app.update(Event::Processors(ProcessorCounts {
                at: t0 + Duration::from_secs(n),
                replicas: vec![ProcessorFigures {
                    replica: "processor-2".into(),
                    rows_inserted: 10 * n,
                    duplicates_skipped: 0,
                    dead_lettered: 0,
                    partitions: vec![(1, 17)],
                }],
            }));
        }
        let text = render(120, 14, |f, a| draw(f, a, &app));
        assert!(text.contains("the processors' own lag figures"), "{text}");
        assert!(text.contains("total lag 17"), "{text}");
        assert!(
            text.contains("held by") && text.contains("processor-2"),
            "{text}"
        );
    }

    #[test]
    fn rising_lag_is_not_draining() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        for i in 0..5u64 {
            let at = t0 + Duration::from_secs(i);
            app.update(snapshot(at, [10 * i as i64, 0], [20 * i as i64 + 5, 0]));
        }
        let text = render(100, 10, |f, a| draw(f, a, &app));
        assert!(text.contains("not draining"), "{text}");
        assert!(text.contains("▲ LAGGING"), "{text}");
    }
}
