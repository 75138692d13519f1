//! Durations as people write them, parsed and printed the same way by every command:
//! `500ms`, `30s`, `2m`, `1h30m`, `1.5s`, `2d`; a bare number is seconds. What
//! [`format`] prints, [`parse`] reads back. Every duration flag of the CLI parses with
//! [`arg`], and every duration a person may paste back is printed with [`format`].

use std::time::Duration;

use anyhow::{Result, bail};

const UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("min", 60.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
];

/// Reads `1h30m`, `90s`, `250ms`, `1.5h`, `2d`; a bare number is seconds.
pub fn parse(text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let hint = "write it like 500ms, 30s, 2m, 1h30m or 2d";
    if trimmed.is_empty() {
        bail!("an empty duration: {hint}");
    }
    let mut rest = trimmed;
    let mut secs = 0.0f64;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(split);
        let Some(value) = number
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
        else {
            bail!("{trimmed:?} is not a duration: {hint}");
        };
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let factor = match unit.trim() {
            "" if next.is_empty() && rest.len() == trimmed.len() => 1.0,
            unit => match UNITS.iter().find(|(name, _)| *name == unit) {
                Some((_, factor)) => *factor,
                None => bail!("{trimmed:?}: unknown unit {unit:?}; use ms, s, m, h or d"),
            },
        };
        secs += value * factor;
        rest = next;
    }
    if secs > 100.0 * 365.0 * 86_400.0 {
        bail!("{trimmed:?} is longer than a hundred years");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// [`parse`] as a clap `value_parser`: `#[arg(value_parser = crate::duration::arg)]`.
pub fn arg(text: &str) -> Result<Duration, String> {
    parse(text).map_err(|err| format!("{err:#}"))
}

/// `250ms`, `12s`, `1.5s`, `2m30s`, `1h02m`, `3d4h`: what [`parse`] reads back.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let secs = d.as_secs();
    let (days, hours, mins, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (days, hours) {
        (0, 0) if s == 0 => format!("{mins}m"),
        (0, 0) => format!("{mins}m{s:02}s"),
        (0, h) if mins == 0 => format!("{h}h"),
        (0, h) => format!("{h}h{mins:02}m"),
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_simple_and_compound_durations() {
        for (text, secs) in [
            ("30", 30.0),
            ("30s", 30.0),
            ("250ms", 0.25),
            ("2m", 120.0),
            ("2min", 120.0),
            ("1h30m", 5400.0),
            ("1m30s", 90.0),
            ("1.5h", 5400.0),
            ("2d", 172_800.0),
            (" 15m ", 900.0),
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Duration::from_secs_f64(secs),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "",
            "m",
            "ten",
            "5 parsecs",
            "1h30",
            "-5s",
            "1e3s",
            "1000000d",
        ] {
            assert!(parse(text).is_err(), "{text:?} parsed");
        }
        let err = parse("5y").unwrap_err().to_string();
        assert!(err.contains("unknown unit"), "{err}");
    }

    #[test]
    fn what_is_printed_reads_back() {
        for secs in [
            0.25, 1.0, 1.5, 12.0, 90.0, 120.0, 3600.0, 3720.0, 86_400.0, 97_200.0,
        ] {
            let d = Duration::from_secs_f64(secs);
            let text = format(d);
            assert_eq!(parse(&text).unwrap(), d, "{secs} printed as {text}");
        }
        assert_eq!(format(Duration::from_secs(150)), "2m30s");
        assert_eq!(format(Duration::from_secs(3720)), "1h02m");
        assert_eq!(format(Duration::from_secs(125)), "2m05s");
        assert_eq!(arg("1m30s"), Ok(Duration::from_secs(90)));
        assert!(arg("soon").unwrap_err().contains("1h30m"));
    }
}
