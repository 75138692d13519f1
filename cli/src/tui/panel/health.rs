//! Each service and replica (the facts of `ptrack status`), the dead-letter topic's
//! depth, and the partitions each processor replica owns.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Style},
    text::{Line, Span},
    widgets::{Paragraph, Row, Table},
};

use super::{block, bold, fg, source_error};
use crate::{
    runtime::Health,
    tui::{
        app::{App, Panel},
        event::SourceId,
    },
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = block(app, Panel::Health, "");
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let setup = &app.setup;
    let mut head = Vec::new();
    if !setup.found.is_empty() {
        let style = if setup.stack_found {
            Style::new()
        } else {
            fg(app, Color::Yellow)
        };
        head.push(Line::from(Span::styled(setup.found.clone(), style)));
    }
    let or_not = |what: &Option<String>| what.clone().unwrap_or_else(|| "not reachable".into());
    head.push(Line::from(format!(
        "broker {}  db {}",
        or_not(&setup.broker),
        or_not(&setup.database)
    )));
    head.push(Line::from(format!(
        "events-api {}  collectors {}  processors {}",
        or_not(&setup.events_api),
        setup.collectors,
        setup.processors
    )));
    head.push(Line::from(match app.lag.dlq {
        Some(d) => format!("dead-letter topic: {} kept", d.depth),
        None => "dead-letter topic: -".to_owned(),
    }));
    if let Some(line) = source_error(app, SourceId::Runtime) {
        head.push(line);
    }
    let [head_area, table_area] =
        Layout::vertical([Constraint::Length(head.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);

    let Some(health) = &app.health else {
        let text = if setup.stack_found {
            "no service status yet (the runtime's, as `ptrack status`)"
        } else {
            "no service status: no stack to ask"
        };
        frame.render_widget(Paragraph::new(text), table_area);
        return;
    };
    let rows = health.replicas.iter().map(|r| {
        let (mark, color) = match r.health {
            Health::Healthy => ("✔ healthy", Color::Green),
            Health::Unhealthy => ("✖ unhealthy", Color::Red),
            Health::Unknown => ("? unknown", Color::Reset),
        };
        let partitions = r.partitions.as_ref().map_or_else(String::new, |p| {
            if p.is_empty() {
                "none".to_owned()
            } else {
                p.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
            }
        });
        Row::new(vec![
            r.name.clone(),
            r.state.to_string(),
            mark.to_owned(),
            partitions,
            r.address.clone().unwrap_or_default(),
        ])
        .style(fg(app, color))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["service", "state", "health", "partitions", "address"]).style(bold(app)));
    frame.render_widget(table, table_area);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{
        runtime::{ReplicaStatus, RunState},
        stack::ServiceName,
        tui::{
            event::{Event, HealthSnapshot},
            panel::testing::render,
        },
    };

    #[test]
    fn shows_each_replica_with_its_health_in_words_and_its_partitions() {
        let mut app = App::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            Instant::now(),
        );
        let replica = |name: &str, health, partitions| ReplicaStatus {
            service: ServiceName::Processor,
            name: name.into(),
            state: RunState::Running,
            health,
            address: Some("127.0.0.1:8002".into()),
            uptime_secs: Some(5),
            partitions,
            lag: Some(0),
            detail: None,
        };
        app.update(Event::Health(HealthSnapshot {
            replicas: vec![
                replica("processor-1", Health::Healthy, Some(vec![0, 2])),
                replica("processor-2", Health::Unhealthy, Some(vec![])),
            ],
        }));
        let text = render(80, 10, |f, a| draw(f, a, &app));
        assert!(
            text.contains("processor-1") && text.contains("✔ healthy"),
            "{text}"
        );
        assert!(text.contains("0,2"), "{text}");
        assert!(
            text.contains("✖ unhealthy") && text.contains("none"),
            "{text}"
        );
    }

    #[test]
    fn says_where_it_reads_from_and_when_no_stack_was_found() {
        let mut app = App::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            Instant::now(),
        );
        app.setup = crate::tui::event::Setup {
            found: "no stack in .ptrack: the local defaults (start one with `ptrack up`)".into(),
            stack_found: false,
            broker: Some("127.0.0.1:9092".into()),
            database: None,
            events_api: Some("http://127.0.0.1:8001/".into()),
            collectors: 1,
            processors: 1,
            delay: None,
        };
        let text = render(90, 10, |f, a| draw(f, a, &app));
        assert!(text.contains("no stack in .ptrack"), "{text}");
        assert!(text.contains("start one with `ptrack up`"), "{text}");
        assert!(
            text.contains("broker 127.0.0.1:9092  db not reachable"),
            "{text}"
        );
        assert!(text.contains("no stack to ask"), "{text}");
    }
}
