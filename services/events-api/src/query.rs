//! The query parameters of `/events` and `/stats`, checked into typed values.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 30;
pub const MAX_LIMIT: i64 = 1000;
/// `/stats` counts per minute; a longer range would be a very long answer.
pub const MAX_STATS_RANGE: Duration = Duration::days(7);
/// The earliest time a parameter may name: RFC 3339's first year. PostgreSQL stores
/// nothing before 4713 BC and chrono nothing before 262143 BC, so a bound well inside
/// both keeps every client time a client error (400) rather than a database error.
pub const MIN_TIME: &str = "0001-01-01T00:00:00Z";
/// The latest: RFC 3339's last year (PostgreSQL goes to 294276 AD, chrono to 262142 AD).
pub const MAX_TIME: &str = "9999-12-31T23:59:59.999999Z";
/// The longest text filter: no stored field is longer (the collector's string limit is
/// 2048 bytes), and a longer value is a mistake or a probe.
pub const MAX_FILTER_LEN: usize = 2048;
/// How much of a bad value an error message repeats.
const SHOWN_CHARS: usize = 40;

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

    /// `None` for anything [`Cursor::encode`] did not make, a time outside
    /// [`MIN_TIME`]..=[`MAX_TIME`] included.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        let timestamp = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        in_range(timestamp).then_some(())?;
        Some(Self {
            timestamp,
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
        let event_types =
            text(params, "event_type")?.map(|t| match t.to_ascii_uppercase().as_str() {
                "HOVER" => vec!["HOVER_ENTER".to_owned(), "HOVER_LEAVE".to_owned()],
                _ => vec![t],
            });
        let location_type = match text(params, "location_type")? {
            None => None,
            Some(l) => match l.to_ascii_uppercase().as_str() {
                l @ ("COMPONENT" | "PAGE") => Some(l.to_owned()),
                _ => {
                    return Err(bad(format!(
                        "location_type={}: expected COMPONENT or PAGE",
                        shown(&l)
                    )));
                }
            },
        };
        let limit = match text(params, "limit")? {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n >= 1 => n.min(MAX_LIMIT),
                _ => {
                    return Err(bad(format!(
                        "limit={}: expected a whole number from 1 to {MAX_LIMIT}",
                        shown(&l)
                    )));
                }
            },
        };
        // The cursor is not repeated: it is ours, opaque, and a client needs only to know
        // where a good one comes from.
        let cursor = match text(params, "cursor")? {
            None => None,
            Some(c) => Some(Cursor::decode(&c).ok_or_else(|| {
                bad("cursor: not a cursor from the X-Next-Cursor header of a previous page".into())
            })?),
        };
        let (since, until) = time_range(params)?;
        Ok(Self {
            event_types,
            location_type,
            component_name: text(params, "component_name")?,
            page_path: text(params, "page_path")?,
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
                    "by={}: expected page or component (type and minute are always counted)",
                    shown(other)
                )));
            }
        };
        let (since, until) = time_range(params)?;
        let until = until.unwrap_or(now);
        let since = match since {
            Some(since) => since,
            // `until` is at least MIN_TIME, so an hour before it is still a time chrono
            // and PostgreSQL hold; checked all the same.
            None => until
                .checked_sub_signed(Duration::hours(1))
                .ok_or_else(|| {
                    bad(format!(
                        "until is too early: expected a time from {MIN_TIME}"
                    ))
                })?,
        };
        if since >= until {
            return Err(bad(
                "since must be earlier than until (which is now when not given)".into(),
            ));
        }
        if until.signed_duration_since(since) > MAX_STATS_RANGE {
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

/// RFC 3339 (`2026-11-25T13:00:00Z`) or Unix milliseconds, as the tracker's timestamps are,
/// from [`MIN_TIME`] to [`MAX_TIME`].
pub fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    let time = if let Ok(ms) = value.parse::<i64>() {
        DateTime::from_timestamp_millis(ms)
    } else {
        let parsed = DateTime::parse_from_rfc3339(value).map_err(|_| {
            bad(format!(
                "{name}={}: expected RFC 3339 (2026-11-25T13:00:00Z) or Unix milliseconds",
                shown(value)
            ))
        })?;
        Some(parsed.with_timezone(&Utc))
    };
    time.filter(|t| in_range(*t)).ok_or_else(|| {
        bad(format!(
            "{name}={}: out of range; expected a time from {MIN_TIME} to {MAX_TIME}",
            shown(value)
        ))
    })
}

fn in_range(time: DateTime<Utc>) -> bool {
    let bound = |text| {
        // The bounds are literals in RFC 3339 (see the unit tests).
        DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
    };
    matches!((bound(MIN_TIME), bound(MAX_TIME)), (Ok(min), Ok(max)) if min <= time && time <= max)
}

/// A text filter: `None` when absent or empty; 400 for a NUL character (PostgreSQL text
/// cannot hold one, so it would be a database error, and no stored event has one) or a
/// value longer than any stored field.
fn text(params: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.contains('\0') => Err(bad(format!(
            "{name}: contains a NUL character (%00), which no stored event has"
        ))),
        Some(v) if v.len() > MAX_FILTER_LEN => Err(bad(format!(
            "{name}: longer than {MAX_FILTER_LEN} bytes, which no stored event is"
        ))),
        Some(v) => Ok(Some(v.clone())),
    }
}

fn reject_unknown(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(bad(format!(
            "unknown parameter {}; expected one of: {}",
            shown(unknown),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A client's value as an error message repeats it: quoted, escaped, and cut short, so a
/// long or binary value does not come back whole.
pub(crate) fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}...", &value[..end]),
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
    fn values_postgresql_cannot_take_are_client_errors() {
        let long = "a".repeat(MAX_FILTER_LEN + 1);
        for (pairs, needle) in [
            (vec![("component_name", "Buy\0")], "NUL"),
            (vec![("page_path", "/\0")], "NUL"),
            (vec![("event_type", "\0")], "NUL"),
            (vec![("page_path", long.as_str())], "longer than"),
            // Before PostgreSQL's first year (4713 BC) and past chrono's range.
            (vec![("since", "-200000000000000")], "out of range"),
            (vec![("until", "-9223372036854775808")], "out of range"),
            (vec![("until", "9223372036854775807")], "out of range"),
            (vec![("since", "10000-01-01T00:00:00Z")], "RFC 3339"),
            // A cursor at chrono's first microsecond: a valid i64, refused all the same.
            (
                vec![("cursor", &format!("{}_{}", i64::MIN, Uuid::nil()))],
                "cursor",
            ),
        ] {
            let err = EventsQuery::parse(&params(&pairs)).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs:?}: {err}");
            assert!(!err.contains(&long), "the long value is not repeated whole");
        }
        let first = parse_time("since", MIN_TIME).unwrap();
        let last = parse_time("until", MAX_TIME).unwrap();
        assert!(first < last);
        assert_eq!(parse_time("since", "0").unwrap().timestamp(), 0);
    }

    #[test]
    fn extreme_stats_ranges_never_overflow() {
        let now = Utc::now();
        for pairs in [
            vec![("since", MIN_TIME), ("until", MAX_TIME)],
            vec![("until", "-9223372036854775808")],
            vec![("since", "9223372036854775807")],
            vec![("since", MAX_TIME)],
        ] {
            let result = StatsQuery::parse(&params(&pairs), now);
            assert!(
                matches!(result, Err(ApiError::BadRequest(_))),
                "{pairs:?}: {result:?}"
            );
        }
        for until in [MIN_TIME, MAX_TIME] {
            let q = StatsQuery::parse(&params(&[("until", until)]), now).unwrap();
            assert_eq!(q.until - q.since, Duration::hours(1), "{until}");
        }
    }

    #[test]
    fn a_cursor_is_never_repeated_and_long_values_are_cut() {
        let err = EventsQuery::parse(&params(&[("cursor", "<script>secret</script>")]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("script"), "{err}");
        let err = EventsQuery::parse(&params(&[("limit", &"9".repeat(500))]))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "{err}");
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
}
