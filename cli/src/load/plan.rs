//! When each request is due: the open model's fixed timetable (`--rps`, `--ramp`,
//! `--duration`, `--requests`), or as fast as the connections allow (`--rps max`).

use std::{fmt, time::Duration};

use anyhow::{Context, Result, bail};

/// One stage of the timetable: `count` requests at `rps`, starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub rps: f64,
    pub duration: Duration,
    /// Index of the stage's first request.
    first: u64,
    count: u64,
    start: Duration,
}

/// What the generator is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Open model: request `i` is due at [`Plan::due`], whether or not earlier ones
    /// have answered.
    Open { stages: Vec<Stage>, total: u64 },
    /// Closed model: every connection sends its next request as soon as the last one
    /// answered, until `requests` were sent or `duration` passed.
    Max {
        requests: Option<u64>,
        duration: Option<Duration>,
    },
}

impl Plan {
    /// A fixed rate for a duration, or for exactly `requests` requests.
    pub fn fixed(rps: f64, duration: Option<Duration>, requests: Option<u64>) -> Result<Self> {
        if !(rps.is_finite() && rps > 0.0) {
            bail!("--rps must be a positive number of requests per second, or `max`");
        }
        let count = match (requests, duration) {
            (Some(n), _) => n,
            (None, Some(d)) => (rps * d.as_secs_f64()).round() as u64,
            (None, None) => bail!("say how long to run: --duration (like 30s) or --requests N"),
        };
        if count == 0 {
            bail!("this plan sends no request at all: raise --rps, --duration or --requests");
        }
        let duration = Duration::from_secs_f64(count as f64 / rps);
        Self::from_stages(&[(rps, duration, count)])
    }

    /// Stages like `1000:10s,5000:30s`: each holds its rate for its duration.
    pub fn ramp(spec: &str) -> Result<Self> {
        let mut stages = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (rate, duration) = part.split_once(':').with_context(|| {
                format!("ramp stage {part:?} is not RATE:DURATION, like 1000:10s")
            })?;
            let rps: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r > 0.0)
                .with_context(|| {
                    format!("ramp stage {part:?}: the rate must be a positive number")
                })?;
            let duration = crate::duration::parse(duration.trim())
                .with_context(|| format!("ramp stage {part:?}"))?;
            let count = (rps * duration.as_secs_f64()).round() as u64;
            stages.push((rps, duration, count));
        }
        if stages.is_empty() {
            bail!("--ramp needs at least one stage, like 1000:10s,5000:30s");
        }
        Self::from_stages(&stages)
    }

    fn from_stages(stages: &[(f64, Duration, u64)]) -> Result<Self> {
        let mut out = Vec::new();
        let (mut first, mut start) = (0, Duration::ZERO);
        for &(rps, duration, count) in stages {
            out.push(Stage {
                rps,
                duration,
                first,
                count,
                start,
            });
            first += count;
            start += duration;
        }
        if first == 0 {
            bail!("this plan sends no request at all: raise the rates or durations");
        }
        Ok(Self::Open {
            stages: out,
            total: first,
        })
    }

    /// When request `i` is due, counted from the start; `None` past the end.
    pub fn due(&self, i: u64) -> Option<Duration> {
        let Self::Open { stages, total } = self else {
            return None;
        };
        if i >= *total {
            return None;
        }
        let stage = stages.iter().rev().find(|s| s.first <= i && s.count > 0)?;
        let offset = (i - stage.first) as f64 / stage.rps;
        Some(stage.start + Duration::from_secs_f64(offset))
    }

    /// The rate asked for at `at` (`None` for `--rps max` or after the end).
    pub fn target_rps_at(&self, at: Duration) -> Option<f64> {
        let Self::Open { stages, .. } = self else {
            return None;
        };
        stages
            .iter()
            .find(|s| at >= s.start && at < s.start + s.duration)
            .map(|s| s.rps)
    }

    /// How many requests the plan sends, when known up front.
    pub fn total_requests(&self) -> Option<u64> {
        match self {
            Self::Open { total, .. } => Some(*total),
            Self::Max { requests, .. } => *requests,
        }
    }

    /// How long sending lasts, when known up front.
    pub fn planned_duration(&self) -> Option<Duration> {
        match self {
            Self::Open { stages, .. } => stages.last().map(|s| s.start + s.duration),
            Self::Max { duration, .. } => *duration,
        }
    }

    /// The average rate asked for over the whole plan.
    pub fn target_rps(&self) -> Option<f64> {
        let total = self.total_requests()? as f64;
        let secs = self.planned_duration()?.as_secs_f64();
        matches!(self, Self::Open { .. }).then(|| if secs > 0.0 { total / secs } else { total })
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { stages, total } => {
                let parts: Vec<String> = stages
                    .iter()
                    .map(|s| {
                        format!(
                            "{} req/s for {}",
                            s.rps,
                            crate::duration::format(s.duration)
                        )
                    })
                    .collect();
                write!(f, "{} ({total} requests)", parts.join(", then "))
            }
            Self::Max { requests, duration } => {
                write!(f, "as fast as possible")?;
                if let Some(n) = requests {
                    write!(f, ", {n} requests")?;
                }
                if let Some(d) = duration {
                    write!(f, ", for {}", crate::duration::format(*d))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_rate_is_an_even_timetable() {
        let plan = Plan::fixed(1000.0, Some(Duration::from_secs(2)), None).unwrap();
        assert_eq!(plan.total_requests(), Some(2000));
        assert_eq!(plan.due(0), Some(Duration::ZERO));
        assert_eq!(plan.due(500), Some(Duration::from_millis(500)));
        assert_eq!(plan.due(1999), Some(Duration::from_millis(1999)));
        assert_eq!(plan.due(2000), None);
        let counted = Plan::fixed(200.0, None, Some(50)).unwrap();
        assert_eq!(counted.planned_duration(), Some(Duration::from_millis(250)));
        assert!(Plan::fixed(0.0, Some(Duration::from_secs(1)), None).is_err());
    }

    #[test]
    fn ramp_stages_follow_each_other() {
        let plan = Plan::ramp("10:1s, 100:2s").unwrap();
        assert_eq!(plan.total_requests(), Some(210));
        assert_eq!(plan.due(9), Some(Duration::from_millis(900)));
        assert_eq!(plan.due(10), Some(Duration::from_secs(1)));
        assert_eq!(plan.due(110), Some(Duration::from_secs(2)));
        assert_eq!(plan.target_rps_at(Duration::from_millis(500)), Some(10.0));
        assert_eq!(plan.target_rps_at(Duration::from_millis(1500)), Some(100.0));
        assert_eq!(plan.planned_duration(), Some(Duration::from_secs(3)));
        assert!(Plan::ramp("1000").is_err());
        assert!(Plan::ramp("x:1s").is_err());
    }
}
