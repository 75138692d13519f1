//! Just enough of the Prometheus text format to read a few counters and gauges from a
//! service's `/metrics`: `name{label="value",...} number [timestamp]` lines, `#` comments
//! skipped, a counter found with or without its `_total` suffix (OpenMetrics adds it).
//! Anything it does not understand is skipped, never an error: a line is only read when
//! its name is the one asked for.

/// One sample: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of the metric `name` (or `name_total`).
pub fn samples(text: &str, name: &str) -> Vec<Sample> {
    text.lines()
        .filter_map(|line| parse_line(line.trim()))
        .filter(|(metric, _)| {
            *metric == name || metric.strip_suffix("_total").is_some_and(|m| m == name)
        })
        .map(|(_, sample)| sample)
        .collect()
}

/// The sum of every sample of `name`: the counter of a service without labels, or a
/// family added up. `None` when the metric is not there at all.
pub fn total(text: &str, name: &str) -> Option<f64> {
    let found = samples(text, name);
    (!found.is_empty()).then(|| found.iter().map(|s| s.value).sum())
}

/// `name{labels} value [timestamp]`; `None` for comments, blank and unreadable lines.
fn parse_line(line: &str) -> Option<(&str, Sample)> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some((name, Sample { labels, value }))
}

/// `a="x",b="y\"z"}` and the text after the closing brace.
fn parse_labels(mut text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = text.find('=')?;
        let name = text[..eq].trim().to_owned();
        let mut chars = text[eq + 1..].trim_start().char_indices();
        let start = text.len() - text[eq + 1..].trim_start().len();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => value.push('\n'),
                (true, c) => value.push(c),
                (false, '\\') => {
                    escaped = true;
                    continue;
                }
                (false, '"') => {
                    end = Some(start + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
            escaped = false;
        }
        labels.push((name, value));
        text = &text[end?..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLLECTOR: &str = r#"# HELP ptrack_collector_requests HTTP requests to /track by status.
# TYPE ptrack_collector_requests counter
ptrack_collector_requests_total{status="200"} 12
ptrack_collector_requests_total{status="400"} 1
# HELP ptrack_collector_events_accepted Events acknowledged by the broker.
# TYPE ptrack_collector_events_accepted counter
ptrack_collector_events_accepted_total 240
# TYPE ptrack_collector_events_rejected counter
ptrack_collector_events_rejected_total 3
ptrack_collector_produce_latency_seconds_bucket{le="+Inf"} 12
# EOF
"#;

    #[test]
    fn reads_counters_with_or_without_the_total_suffix() {
        assert_eq!(
            total(COLLECTOR, "ptrack_collector_events_accepted"),
            Some(240.0)
        );
        assert_eq!(
            total(COLLECTOR, "ptrack_collector_events_accepted_total"),
            Some(240.0)
        );
        assert_eq!(
            total(COLLECTOR, "ptrack_collector_events_rejected"),
            Some(3.0)
        );
        assert_eq!(total(COLLECTOR, "ptrack_collector_requests"), Some(13.0));
        assert_eq!(total(COLLECTOR, "ptrack_collector_events"), None);
        assert_eq!(total(COLLECTOR, "no_such_metric"), None);
    }

    #[test]
    fn reads_labels_with_escapes_and_skips_what_it_does_not_understand() {
        let text = "lag{partition=\"0\"} 5\n\
                    lag{ partition = \"1\", note=\"a \\\"b\\\", c}\" } 7 1700000000000\n\
                    lag{partition=\"2\" 9\n\
                    lag{partition=\"3\"} not-a-number\n\
                    lag_other 100\n\
                    \n\
                    lag 1.5e1\n";
        let found = samples(text, "lag");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].label("partition"), Some("0"));
        assert_eq!(found[0].value, 5.0);
        assert_eq!(found[1].label("partition"), Some("1"));
        assert_eq!(found[1].label("note"), Some("a \"b\", c}"));
        assert_eq!(found[1].value, 7.0);
        assert_eq!(found[2].labels, vec![]);
        assert_eq!(found[2].value, 15.0);
    }
}
