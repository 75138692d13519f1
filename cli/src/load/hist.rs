//! The latency histograms for other tools: `--hist-out` writes the corrected latency's
//! percentile distribution in HdrHistogram's `.hgrm` text (what HdrHistogram's plotter
//! and wrk2 print), `--hist-log` an HdrHistogram interval log (one V2-deflate histogram
//! per slice of the run, tagged `corrected`), which HistogramLogAnalyzer reads and which
//! can be merged across runs by adding the intervals. Values are in milliseconds in the
//! `.hgrm` file; the log keeps the recorded microseconds (its max column in ms).

use std::{
    io::{self, Write},
    time::{Duration, UNIX_EPOCH},
};

use hdrhistogram::{
    Histogram,
    serialization::{
        V2DeflateSerializer,
        interval_log::{IntervalLogWriterBuilder, Tag},
    },
};

use super::report::Histograms;

/// Microseconds per millisecond: the recorded unit to the printed one.
const SCALE: f64 = 1000.0;

/// Writes `h`'s percentile distribution as HdrHistogram's `outputPercentileDistribution`
/// does (5 ticks per half distance, values in ms).
pub fn write_hgrm(h: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    if !h.is_empty() {
        // The count of values up to this line's, as HdrHistogram's TotalCount column.
        let mut total = 0;
        for v in h.iter_quantiles(5) {
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            total += v.count_since_last_iteration();
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:12.3} {q:2.12} {total:10}")?;
            }
        }
    }
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h)
    )
}

/// HdrHistogram's sub-bucket count: the power of two that holds 2 * 10^sigfig (2048 for
/// 3 significant digits).
fn sub_buckets(h: &Histogram<u64>) -> u64 {
    (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two()
}

/// Writes the run's interval log: a start time, then the corrected latency of each
/// slice of the timeline as one interval.
pub fn write_log(histograms: &Histograms, out: &mut impl Write) -> io::Result<()> {
    let start = UNIX_EPOCH + Duration::from_millis(histograms.started_unix_ms.max(0) as u64);
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("ptrack load: corrected latency in microseconds (max column in ms)")
        .with_start_time(start)
        .with_max_value_divisor(SCALE)
        .begin_log_with(out, &mut serializer)?;
    let tag = Tag::new("corrected");
    for (i, interval) in histograms.intervals.iter().enumerate() {
        if interval.is_empty() {
            continue;
        }
        let from = histograms.interval * i as u32;
        log.write_histogram(interval, from, histograms.interval, tag)
            .map_err(|err| io::Error::other(format!("{err:?}")))?;
    }
    Ok(())
}
