//! `--threshold`: pass/fail criteria on a run's figures, as k6 has them, so a CI job fails
//! when latency or errors are out of bounds: `p99<50ms`, `max<=1s`, `errors<0.1%`,
//! `rps>=990`, `lost==0`.
//!
//! Latency percentiles are the corrected latency (from when each request was due), read
//! from the run's histogram, so any percentile works (`p95`, `p99.99`).

use std::{fmt, str::FromStr};

use serde::Serialize;
use thiserror::Error;

use super::report::Report;

/// What `--threshold` accepts, for error messages and `--help`.
pub const SYNTAX: &str = "METRIC OP VALUE, like p99<50ms, p99.9<=200ms, max<1s, errors<0.1%, \
rps>=990 or lost==0 (METRIC: p50, p90, p99, p99.9, any pN, max, errors, rps, lost; OP: <, <=, >, \
>=, ==)";

#[derive(Debug, Error, PartialEq)]
#[error("--threshold {text:?}: {why}; write {SYNTAX}")]
pub struct ThresholdError {
    text: String,
    why: String,
}

/// What a threshold looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A percentile of the corrected latency, like 99.9.
    Percentile(f64),
    /// The largest corrected latency.
    Max,
    /// Failed requests (no answer, or not 2xx) as a share of all requests.
    Errors,
    /// The rate requests were sent at, per second.
    Rps,
    /// Accepted events `--verify` did not find stored.
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Le => left <= right,
            Self::Gt => left > right,
            Self::Ge => left >= right,
            Self::Eq => left == right,
        }
    }
}

/// One `--threshold`. Values are kept in the metric's unit: latency in ms, errors as a
/// fraction (0.001 for `0.1%`), rps per second, lost as a count.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |why: String| ThresholdError {
            text: text.to_owned(),
            why,
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let at = compact
            .find(['<', '>', '='])
            .ok_or_else(|| fail("no comparison".into()))?;
        let (name, rest) = compact.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(sign, op)| rest.strip_prefix(sign).map(|value| (op, value)))
        .ok_or_else(|| fail(format!("{rest:?} does not start with a comparison")))?;
        if value.is_empty() {
            return Err(fail("no value to compare with".into()));
        }
        let metric = match name.to_ascii_lowercase().as_str() {
            "max" => Metric::Max,
            "errors" | "error_rate" => Metric::Errors,
            "rps" => Metric::Rps,
            "lost" => Metric::Lost,
            "" => return Err(fail("no metric before the comparison".into())),
            other => match other.strip_prefix('p').map(str::parse::<f64>) {
                Some(Ok(p)) if p > 0.0 && p < 100.0 => Metric::Percentile(p),
                Some(Ok(_)) => {
                    return Err(fail(format!(
                        "{other}: a percentile is between p0 and p100 (use max for the top)"
                    )));
                }
                _ => return Err(fail(format!("unknown metric {other:?}"))),
            },
        };
        let number = |v: &str| v.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        let value = match metric {
            Metric::Percentile(_) | Metric::Max => {
                if value.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    return Err(fail(format!(
                        "the latency {value:?} needs a unit, like {value}ms"
                    )));
                }
                crate::duration::parse(value)
                    .map_err(|err| fail(err.to_string()))?
                    .as_secs_f64()
                    * 1000.0
            }
            Metric::Errors => match value.strip_suffix('%') {
                Some(percent) => {
                    number(percent)
                        .filter(|p| *p <= 100.0)
                        .ok_or_else(|| fail(format!("{value:?} is not a percentage")))?
                        / 100.0
                }
                None => number(value)
                    .filter(|f| *f <= 1.0)
                    .ok_or_else(|| fail(format!("{value:?} is not a rate like 0.1% or 0.001")))?,
            },
            Metric::Rps | Metric::Lost => {
                number(value).ok_or_else(|| fail(format!("{value:?} is not a number")))?
            }
        };
        Ok(Self {
            text: text.trim().to_owned(),
            metric,
            op,
            value,
        })
    }
}

/// [`Threshold`] as a clap `value_parser`: a bad one is a usage error (exit 2).
pub fn arg(text: &str) -> Result<Threshold, String> {
    text.parse().map_err(|err: ThresholdError| err.to_string())
}

/// How a threshold came out.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub threshold: String,
    /// The run's figure, in the unit of the threshold (ms, fraction, /s, count).
    pub actual: f64,
    pub ok: bool,
    #[serde(skip)]
    metric: Metric,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok    " } else { "BROKEN" };
        write!(f, "{verdict} {}  (was {})", self.threshold, self.shown())
    }
}

impl Checked {
    fn shown(&self) -> String {
        match self.metric {
            _ if self.actual.is_nan() => "not measured: lost needs --verify".into(),
            Metric::Errors => format!("{:.3}%", self.actual * 100.0),
            Metric::Rps => format!("{:.1}/s", self.actual),
            Metric::Lost => format!("{}", self.actual),
            Metric::Percentile(_) | Metric::Max => format!("{:.3}ms", self.actual),
        }
    }
}

impl Threshold {
    /// The figure this threshold looks at, or why there is none (`lost` without
    /// `--verify`).
    fn actual(&self, report: &Report) -> Option<f64> {
        let latency = &report.histograms.corrected;
        Some(match self.metric {
            Metric::Percentile(_) | Metric::Max if latency.is_empty() => 0.0,
            Metric::Percentile(p) => latency.value_at_quantile(p / 100.0) as f64 / 1000.0,
            Metric::Max => latency.max() as f64 / 1000.0,
            Metric::Errors if report.requests == 0 => 0.0,
            Metric::Errors => report.requests_failed as f64 / report.requests as f64,
            Metric::Rps => report.sent_rps,
            Metric::Lost => match &report.verify {
                Some(verify) => verify.lost as f64,
                None => return None,
            },
        })
    }

    /// Checks the threshold against a finished run; a figure that is missing (`lost`
    /// without `--verify`) fails it.
    pub fn check(&self, report: &Report) -> Checked {
        let actual = self.actual(report);
        Checked {
            threshold: self.text.clone(),
            ok: actual.is_some_and(|actual| self.op.holds(actual, self.value)),
            actual: actual.unwrap_or(f64::NAN),
            metric: self.metric,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Threshold {
        text.parse().unwrap()
    }

    #[test]
    fn thresholds_read_like_k6() {
        let t = parse("p99<50ms");
        assert_eq!(
            (t.metric, t.op, t.value),
            (Metric::Percentile(99.0), Op::Lt, 50.0)
        );
        let t = parse(" p99.9 <= 1.5s ");
        assert_eq!(
            (t.metric, t.op, t.value),
            (Metric::Percentile(99.9), Op::Le, 1500.0)
        );
        assert_eq!(parse("max<250ms").metric, Metric::Max);
        let t = parse("errors<0.1%");
        assert_eq!((t.metric, t.op), (Metric::Errors, Op::Lt));
        assert!((t.value - 0.001).abs() < 1e-12);
        assert_eq!(parse("errors<=0.01").value, 0.01);
        let t = parse("rps>=990");
        assert_eq!((t.metric, t.op, t.value), (Metric::Rps, Op::Ge, 990.0));
        assert_eq!(parse("lost==0").metric, Metric::Lost);
    }

    #[test]
    fn bad_thresholds_say_what_is_wrong() {
        for (text, why) in [
            ("p99", "no comparison"),
            ("p99<", "no value"),
            ("<50ms", "no metric"),
            ("latency<50ms", "unknown metric"),
            ("p100<50ms", "between p0 and p100"),
            ("p99<50", "needs a unit"),
            ("p99<50parsecs", "unknown unit"),
            ("errors<150%", "not a percentage"),
            ("errors<5", "not a rate"),
            ("rps>lots", "not a number"),
            ("p99=>5ms", "does not start with a comparison"),
        ] {
            let err = arg(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
            assert!(
                err.contains("p99<50ms"),
                "{text}: the message shows the syntax"
            );
        }
    }
}
