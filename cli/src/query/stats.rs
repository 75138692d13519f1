//! `ptrack query stats`: the events-api's counts over a time range, by event type, page,
//! component or minute, as an aligned table or JSON.

use std::{collections::BTreeMap, io::Write};

use ptrack_wire::Stats;

use super::time::rfc3339;

/// `--by`: what the counts are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Event type (`CLICK`, `PAGE_VIEW`, ...).
    Type,
    /// Page path.
    Page,
    /// Component name.
    Component,
    /// Minute (UTC), with the types counted in each.
    Minute,
}

impl By {
    /// The breakdown to ask the API for (type and minute always come).
    pub fn api(self) -> Option<crate::client::StatsBy> {
        match self {
            Self::Page => Some(crate::client::StatsBy::Page),
            Self::Component => Some(crate::client::StatsBy::Component),
            Self::Type | Self::Minute => None,
        }
    }
}

/// Writes the counts as a table: a line with the range and total, then one row per
/// key, largest count first (by minute: oldest first).
pub fn table(stats: &Stats, by: By, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} events from {} to {}",
        stats.total,
        rfc3339(stats.since),
        rfc3339(stats.until)
    )?;
    let rows: Vec<[String; 3]> = match by {
        By::Minute => stats
            .by_minute
            .iter()
            .map(|m| {
                let types: Vec<String> =
                    m.by_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
                [
                    m.minute.format("%Y-%m-%dT%H:%MZ").to_string(),
                    m.total.to_string(),
                    types.join(", "),
                ]
            })
            .collect(),
        By::Type | By::Page | By::Component => {
            let empty = BTreeMap::new();
            let counts = match by {
                By::Page => stats.by_page.as_ref(),
                By::Component => stats.by_component.as_ref(),
                _ => Some(&stats.by_type),
            }
            .unwrap_or(&empty);
            let mut counts: Vec<(&String, &i64)> = counts.iter().collect();
            counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            counts
                .into_iter()
                .map(|(key, n)| {
                    let share = if stats.total > 0 {
                        *n as f64 * 100.0 / stats.total as f64
                    } else {
                        0.0
                    };
                    [key.clone(), n.to_string(), format!("{share:.1}%")]
                })
                .collect()
        }
    };
    if rows.is_empty() {
        return Ok(());
    }
    let header = match by {
        By::Type => ["TYPE", "COUNT", "SHARE"],
        By::Page => ["PAGE", "COUNT", "SHARE"],
        By::Component => ["COMPONENT", "COUNT", "SHARE"],
        By::Minute => ["MINUTE", "COUNT", "BY TYPE"],
    };
    let key_width = rows
        .iter()
        .map(|r| r[0].chars().count())
        .chain([header[0].len()])
        .max()
        .unwrap_or(0);
    let count_width = rows
        .iter()
        .map(|r| r[1].len())
        .chain([header[1].len()])
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "{:<key_width$}  {:>count_width$}  {}",
        header[0], header[1], header[2]
    )?;
    for [key, count, last] in rows {
        writeln!(out, "{key:<key_width$}  {count:>count_width$}  {last}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ptrack_wire::MinuteCount;

    use super::*;

    fn stats() -> Stats {
        let minute = DateTime::from_timestamp(1_764_756_000, 0).unwrap();
        Stats {
            since: minute,
            until: minute + chrono::Duration::hours(1),
            total: 4,
            by_type: BTreeMap::from([("CLICK".into(), 3), ("PAGE_VIEW".into(), 1)]),
            by_minute: vec![MinuteCount {
                minute,
                total: 4,
                by_type: BTreeMap::from([("CLICK".into(), 3), ("PAGE_VIEW".into(), 1)]),
            }],
            by_page: Some(BTreeMap::from([("/pricing".into(), 1), ("/".into(), 3)])),
            by_component: None,
        }
    }

    fn render(by: By) -> String {
        let mut out = Vec::new();
        table(&stats(), by, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counts_are_aligned_largest_first_with_their_share() {
        let text = render(By::Type);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("4 events from 2025-12-03T10:00:00.000Z"),
            "{text}"
        );
        assert_eq!(lines[1], "TYPE       COUNT  SHARE");
        assert_eq!(lines[2], "CLICK          3  75.0%");
        assert_eq!(lines[3], "PAGE_VIEW      1  25.0%");
        let pages = render(By::Page);
        assert!(pages.contains("/             3  75.0%"), "{pages}");
        let minutes = render(By::Minute);
        assert!(
            minutes.contains("2025-12-03T10:00Z      4  CLICK 3, PAGE_VIEW 1"),
            "{minutes}"
        );
        assert_eq!(
            render(By::Component).lines().count(),
            1,
            "no rows, no header"
        );
    }
}
