//! The times `ptrack query` takes (`--since`, `--until`) and how it shows them.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

/// `--since` / `--until`: RFC 3339 (`2026-12-03T10:00:00Z`), Unix milliseconds
/// (`1764756000000`, as the tracker's timestamps are), or a time relative to now
/// (`15m`, `2h`, `1h30m`, `7d`: that long ago).
pub fn parse_time(flag: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    let hint = "write RFC 3339 (2026-12-03T10:00:00Z), Unix milliseconds (1764756000000) \
                or a time ago (15m, 2h, 1h30m, 7d)";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
        {
            Some(t) => Ok(t),
            None => bail!("{flag} {text}: out of range as Unix milliseconds; {hint}"),
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    match crate::duration::parse(text) {
        Ok(ago) => match chrono::Duration::from_std(ago)
            .ok()
            .and_then(|ago| now.checked_sub_signed(ago))
        {
            Some(t) => Ok(t),
            None => bail!("{flag} {text}: too long ago; {hint}"),
        },
        Err(_) => bail!("{flag} {text:?} is not a time: {hint}"),
    }
}

/// How long before `now` a time was, the way a table shows it: `3s ago`, `5m ago`,
/// `2h ago`, `4d ago`; `in 3s` for a time ahead of this machine's clock.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = now.signed_duration_since(t);
    let (secs, suffix_ahead) = match delta.num_seconds() {
        s if s >= 0 => (s, false),
        s => (-s, true),
    };
    let amount = match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    };
    if suffix_ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// UTC RFC 3339 with milliseconds: what the JSON, NDJSON and CSV outputs write.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn reads_the_three_forms() {
        let at = |s: &str| parse_time("--since", s, now()).unwrap();
        assert_eq!(
            rfc3339(at("2026-12-03T10:00:00Z")),
            "2026-12-03T10:00:00.000Z"
        );
        assert_eq!(
            rfc3339(at("2026-12-03T11:00:00+01:00")),
            "2026-12-03T10:00:00.000Z"
        );
        assert_eq!(at("1764756000000").timestamp_millis(), 1_764_756_000_000);
        assert_eq!(rfc3339(at("15m")), "2026-12-03T11:45:00.000Z");
        assert_eq!(rfc3339(at("1h30m")), "2026-12-03T10:30:00.000Z");
        assert_eq!(rfc3339(at("2d")), "2026-12-01T12:00:00.000Z");
    }

    #[test]
    fn a_bad_time_names_the_flag_and_the_forms() {
        for text in ["yesterday", "2026-13-01", "99999999999999999999", ""] {
            let err = parse_time("--until", text, now()).unwrap_err().to_string();
            assert!(err.contains("--until"), "{err}");
            assert!(err.contains("RFC 3339"), "{err}");
        }
    }

    #[test]
    fn relative_times_read_like_a_person_says_them() {
        let ago = |secs: i64| relative(now() - chrono::Duration::seconds(secs), now());
        assert_eq!(ago(3), "3s ago");
        assert_eq!(ago(300), "5m ago");
        assert_eq!(ago(7200), "2h ago");
        assert_eq!(ago(4 * 86_400), "4d ago");
        assert_eq!(ago(-5), "in 5s");
    }
}
