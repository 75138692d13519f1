//! The query parameters of `/events` and `/stats`, checked into typed values.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 30;
pub const MAX_LIMIT: i64 = 1000;
/// `/stats` counts per minute; a longer range would be a very long answer.
pub const MAX_STATS_RANGE: Duration = Duration::days(7);

#[derive(Debug, Default, PartialEq)]
pub struct EventsQuery {
    /// Event types to match; `HOVER` stands for both hover kinds.
    pub event_types: Option<Vec<String>>,
    pub location_type: Option<String>,
    pub component_name: Option<String>,
    pub page_path: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// Where the next page starts: the last row's `(timestamp, event_id)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub timestamp: DateTime<Utc>,
    pub event_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.timestamp.timestamp_micros(), self.event_id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        Some(Self {
            timestamp: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            event_id: id.parse().ok()?,
        })
    }
}

const EVENTS_PARAMS: &[&str] = &[
    "event_type",
    "location_type",
    "component_name",
    "page_path",
    "limit",
    "since",
    "until",
    "cursor",
];

impl EventsQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        reject_unknown(params, EVENTS_PARAMS)?;
        let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let event_types = text("event_type").map(|t| match t.to_ascii_uppercase().as_str() {
            "HOVER" => vec!["HOVER_ENTER".to_owned(), "HOVER_LEAVE".to_owned()],
            _ => vec![t],
        });
        let location_type = match text("location_type") {
            None => None,
            Some(l) => match l.to_ascii_uppercase().as_str() {
                l @ ("COMPONENT" | "PAGE") => Some(l.to_owned()),
                _ => {
                    return Err(bad(format!(
                        "location_type={l:?}: expected COMPONENT or PAGE"
                    )));
                }
            },
        };
        let limit = match text("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n >= 1 => n.min(MAX_LIMIT),
                _ => {
                    return Err(bad(format!(
                        "limit={l:?}: expected a whole number from 1 to {MAX_LIMIT}"
                    )));
                }
            },
        };
        let cursor = match text("cursor") {
            None => None,
            Some(c) => Some(Cursor::decode(&c).ok_or_else(|| {
                bad(format!(
                    "cursor={c:?} is not a cursor from the X-Next-Cursor header of a previous page"
                ))
            })?),
        };
        let (since, until) = time_range(params)?;
        Ok(Self {
            event_types,
            location_type,
            component_name: text("component_name"),
            page_path: text("page_path"),
            since,
            until,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, PartialEq)]
pub struct StatsQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `by=page` or `by=component`: a count per page or component as well.
    pub by: Option<StatsBy>,
}

/// The extra breakdown `/stats` can add to its counts by type and by minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    Page,
    Component,
}

impl StatsQuery {
    /// The last hour unless `since` / `until` say otherwise.
    pub fn parse(params: &HashMap<String, String>, now: DateTime<Utc>) -> Result<Self, ApiError> {
        reject_unknown(params, &["since", "until", "by"])?;
        let by = match params.get("by").map(String::as_str) {
            None | Some("" | "type" | "minute") => None,
            Some("page") => Some(StatsBy::Page),
            Some("component") => Some(StatsBy::Component),
            Some(other) => {
                return Err(bad(format!(
                    "by={other:?}: expected page or component (type and minute are always counted)"
                )));
            }
        };
        let (since, until) = time_range(params)?;
        let until = until.unwrap_or(now);
        // Checked: `until` near the earliest time chrono holds would overflow (found by
        // the fuzz target `events_query`).
        let since = match since {
            Some(since) => since,
            None => until
                .checked_sub_signed(Duration::hours(1))
                .ok_or_else(|| bad("until is too early: give since as well".into()))?,
        };
        if until - since > MAX_STATS_RANGE {
            return Err(bad(format!(
                "the range since..until is longer than {} days; ask for a shorter one",
                MAX_STATS_RANGE.num_days()
            )));
        }
        Ok(Self { since, until, by })
    }
}

type Time = DateTime<Utc>;

fn time_range(params: &HashMap<String, String>) -> Result<(Option<Time>, Option<Time>), ApiError> {
    let since = params
        .get("since")
        .filter(|v| !v.is_empty())
        .map(|v| parse_time("since", v))
        .transpose()?;
    let until = params
        .get("until")
        .filter(|v| !v.is_empty())
        .map(|v| parse_time("until", v))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(bad("since must be earlier than until".into()));
    }
    Ok((since, until))
}

/// RFC 3339 (`2026-11-25T13:00:00Z`) or Unix milliseconds, as the tracker's timestamps are.
pub fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(ms) = value.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| bad(format!("{name}={value}: out of range")));
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            bad(format!(
                "{name}={value:?}: expected RFC 3339 (2026-11-25T13:00:00Z) or Unix milliseconds"
            ))
        })
}

fn reject_unknown(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(bad(format!(
            "unknown parameter {unknown:?}; expected one of: {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn bad(reason: String) -> ApiError {
    ApiError::BadRequest(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn hover_means_both_hover_kinds_and_limit_is_capped() {
        let q =
            EventsQuery::parse(&params(&[("event_type", "HOVER"), ("limit", "100000")])).unwrap();
        assert_eq!(q.event_types.unwrap(), ["HOVER_ENTER", "HOVER_LEAVE"]);
        assert_eq!(q.limit, MAX_LIMIT);
        assert_eq!(
            EventsQuery::parse(&params(&[])).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn bad_parameters_say_what_is_expected() {
        for (pairs, needle) in [
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "ten")], "limit"),
            (vec![("location_type", "WINDOW")], "COMPONENT or PAGE"),
            (vec![("since", "yesterday")], "RFC 3339"),
            (vec![("cursor", "nope")], "cursor"),
            (vec![("evnt_type", "CLICK")], "unknown parameter"),
            (vec![("since", "2000"), ("until", "1000")], "earlier"),
        ] {
            let err = EventsQuery::parse(&params(&pairs)).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        let cursor = Cursor {
            timestamp: DateTime::from_timestamp_millis(1_732_000_000_123).unwrap(),
            event_id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn stats_default_to_the_last_hour_and_refuse_long_ranges() {
        let now = DateTime::from_timestamp_millis(1_732_000_000_000).unwrap();
        let q = StatsQuery::parse(&params(&[]), now).unwrap();
        assert_eq!(q.until - q.since, Duration::hours(1));
        let long = params(&[
            ("since", "2026-01-01T00:00:00Z"),
            ("until", "2026-03-01T00:00:00Z"),
        ]);
        assert!(StatsQuery::parse(&long, now).is_err());
        let by = |v: &str| StatsQuery::parse(&params(&[("by", v)]), now).map(|q| q.by);
        assert_eq!(by("page").unwrap(), Some(StatsBy::Page));
        assert_eq!(by("component").unwrap(), Some(StatsBy::Component));
        assert_eq!(by("type").unwrap(), None);
        assert!(
            by("colour")
                .unwrap_err()
                .to_string()
                .contains("page or component")
        );
    }

    /// A fuzz finding: the default `since` (an hour before `until`) overflowed and
    /// panicked for an `until` in the first hour chrono can hold.
    #[test]
    fn an_until_at_the_start_of_time_is_a_400_not_a_panic() {
        let now = DateTime::from_timestamp_millis(1_732_000_000_000).unwrap();
        let q = params(&[("until", "-8334601228800000")]);
        assert!(StatsQuery::parse(&q, now).is_err());
    }
}
