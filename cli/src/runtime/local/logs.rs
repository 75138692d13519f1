//! The local runtime's `logs`: each selected replica's log file (all of it, its last
//! lines, or the lines since a time), one after the other; then, with `follow`, only
//! what is appended to each, polled. A file truncated is read again from its start; one
//! replaced (rotated: renamed away and created again) is read to its end, then the new
//! one from its start.
//!
//! Times: the services' tracing lines start with an RFC 3339 time (perhaps in ANSI
//! colours), PostgreSQL's with `2026-12-03 14:58:40.123 UTC`; a line without one (a
//! continuation, a panic message) takes the time of the line before it. `--since` keeps
//! the lines from that time on (a line before the file's first time is older), and
//! `--timestamps` prints that time before each line.

use std::{
    collections::VecDeque,
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::MetadataExt,
    path::PathBuf,
    time::Duration,
};

use anyhow::Result;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use tokio::sync::mpsc;

use super::Local;
use crate::runtime::{LogLine, Logs, LogsRequest};

/// How often a followed log file is looked at again.
const POLL: Duration = Duration::from_millis(200);
/// How much of a file is read at once.
const BLOCK: usize = 64 * 1024;

impl Local {
    pub(super) fn tail_logs(&self, request: &LogsRequest) -> Result<Logs> {
        let names: Vec<String> = self
            .context
            .stack
            .select(request.service.as_deref())?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let files: Vec<(String, PathBuf)> = names
            .iter()
            .map(|name| (name.clone(), self.log_file(name)))
            .collect();
        let (tx, lines) = mpsc::channel(Logs::BUFFER);
        let request = request.clone();
        // Plain file reads and sleeps: a thread of its own, which ends when the receiver
        // is dropped (looked at every POLL) or, without `follow`, at the files' ends.
        std::thread::spawn(move || tail(files, &request, &tx));
        Ok(Logs { names, lines })
    }
}

/// Sends the lines of `files` until the receiver is gone or, without `follow`, every
/// file is read.
fn tail(files: Vec<(String, PathBuf)>, request: &LogsRequest, tx: &mpsc::Sender<Result<LogLine>>) {
    let send = |replica: &str, time: Option<DateTime<Utc>>, line: &str| {
        let line = if request.timestamps {
            format!("{} {line}", stamp(time))
        } else {
            line.to_owned()
        };
        tx.blocking_send(Ok(LogLine {
            replica: replica.to_owned(),
            line,
        }))
        .is_ok()
    };
    let mut followers = Vec::new();
    for (name, path) in files {
        let mut follower = Follower::new(path);
        let mut first: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
        let read = follower.read_first(request.tail, request.since, &mut |time, line| {
            first.push((time, line.to_owned()));
        });
        if read.is_err() {
            // Not there yet (a service not started): followed from when it appears.
            follower = Follower::new(follower.path);
        }
        for (time, line) in first {
            if !send(&name, time, &line) {
                return;
            }
        }
        followers.push((name, follower));
    }
    if !request.follow {
        return;
    }
    loop {
        for (name, follower) in &mut followers {
            let mut lines = Vec::new();
            // A file that cannot be read now is tried again at the next look.
            let _ = follower.poll(&mut |time, line| lines.push((time, line.to_owned())));
            for (time, line) in lines {
                if !send(name, time, &line) {
                    return;
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// `--timestamps`' column: UTC with microseconds, or dashes for a line with no time.
fn stamp(time: Option<DateTime<Utc>>) -> String {
    match time {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
        None => format!("{:<27}", "-"),
    }
}

/// The time a log line starts with, if any: RFC 3339 (tracing, perhaps in colour) or
/// PostgreSQL's `2026-12-03 14:58:40.123 UTC`.
pub(crate) fn line_time(line: &str) -> Option<DateTime<Utc>> {
    let plain = strip_ansi(line.get(..line.len().min(80))?);
    let mut words = plain.split_whitespace();
    let first = words.next()?;
    if !first.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(first) {
        return Some(t.with_timezone(&Utc));
    }
    let (clock, zone) = (words.next()?, words.next()?);
    if !matches!(zone, "UTC" | "GMT") {
        return None;
    }
    NaiveDateTime::parse_from_str(&format!("{first} {clock}"), "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One log file being read: where the next unread byte is, and which file that is.
pub(crate) struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// The first byte of `file` not read yet.
    offset: u64,
    /// The start of a line still being written.
    partial: Vec<u8>,
    /// The time of the last line that had one.
    last_time: Option<DateTime<Utc>>,
    /// Every byte read from the files so far: following reads only what was appended.
    pub(crate) bytes_read: u64,
}

impl Follower {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            offset: 0,
            partial: Vec::new(),
            last_time: None,
            bytes_read: 0,
        }
    }

    /// Reads the file as it is now: the last `tail` lines of those since `since` (all
    /// when neither is given), then stands at its end. An error when it cannot be
    /// opened.
    pub(crate) fn read_first(
        &mut self,
        tail: Option<usize>,
        since: Option<DateTime<Utc>>,
        emit: &mut dyn FnMut(Option<DateTime<Utc>>, &str),
    ) -> io::Result<()> {
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        self.offset = match (tail, since) {
            // The last lines alone: found from the end, the rest of the file unread.
            (Some(n), None) => {
                let start = start_of_last_lines(&mut file, len, n)?;
                self.bytes_read += len - start;
                start
            }
            _ => 0,
        };
        self.file = Some(file);
        match (tail, since) {
            (Some(_), None) | (None, None) => self.read_appended(emit),
            (tail, Some(since)) => {
                let mut kept = VecDeque::new();
                self.read_appended(&mut |time, line| {
                    if time.is_some_and(|t| t >= since) {
                        kept.push_back((time, line.to_owned()));
                        if tail.is_some_and(|n| kept.len() > n) {
                            kept.pop_front();
                        }
                    }
                })?;
                for (time, line) in kept {
                    emit(time, &line);
                }
                Ok(())
            }
        }
    }

    /// The whole lines appended since the last look; a file truncated or replaced is
    /// read again from its start (what was left of a replaced one first).
    pub(crate) fn poll(
        &mut self,
        emit: &mut dyn FnMut(Option<DateTime<Utc>>, &str),
    ) -> io::Result<()> {
        let on_disk = std::fs::metadata(&self.path).ok();
        if let Some(file) = &self.file {
            let open = file.metadata()?;
            let replaced = on_disk
                .as_ref()
                .is_none_or(|d| (d.dev(), d.ino()) != (open.dev(), open.ino()));
            if replaced {
                self.read_appended(emit)?;
                if !self.partial.is_empty() {
                    let last = String::from_utf8_lossy(&self.partial).into_owned();
                    self.line(&last, emit);
                    self.partial.clear();
                }
                self.file = None;
            } else if open.len() < self.offset {
                self.offset = 0;
                self.partial.clear();
            }
        }
        if self.file.is_none() {
            if on_disk.is_none() {
                return Ok(());
            }
            self.file = Some(File::open(&self.path)?);
            self.offset = 0;
        }
        self.read_appended(emit)
    }

    /// Reads `file` from `offset` to its end, emitting each whole line.
    fn read_appended(
        &mut self,
        emit: &mut dyn FnMut(Option<DateTime<Utc>>, &str),
    ) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut block = vec![0u8; BLOCK];
        loop {
            let Some(file) = &mut self.file else {
                return Ok(());
            };
            let n = file.read(&mut block)?;
            if n == 0 {
                return Ok(());
            }
            self.offset += n as u64;
            self.bytes_read += n as u64;
            let mut rest = &block[..n];
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&rest[..end]);
                let line = String::from_utf8_lossy(&self.partial).into_owned();
                self.partial.clear();
                self.line(line.trim_end_matches('\r'), emit);
                rest = &rest[end + 1..];
            }
            self.partial.extend_from_slice(rest);
        }
    }

    fn line(&mut self, line: &str, emit: &mut dyn FnMut(Option<DateTime<Utc>>, &str)) {
        if let Some(time) = line_time(line) {
            self.last_time = Some(time);
        }
        emit(self.last_time, line);
    }
}

/// Where the last `n` whole lines of `file` (`len` bytes) start, read from the end
/// backwards; a line still being written at the end is not one of them.
fn start_of_last_lines(file: &mut File, len: u64, n: usize) -> io::Result<u64> {
    let mut block = vec![0u8; BLOCK];
    let mut end = len;
    let mut newlines = 0;
    while end > 0 {
        let start = end.saturating_sub(BLOCK as u64);
        let chunk = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        for (i, b) in chunk.iter().enumerate().rev() {
            if *b == b'\n' {
                newlines += 1;
                // The first newline from the end closes the last whole line; the one
                // before the n-th closes the line before them.
                if newlines == n + 1 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn collect(
        f: impl FnOnce(&mut dyn FnMut(Option<DateTime<Utc>>, &str)) -> io::Result<()>,
    ) -> Vec<(Option<DateTime<Utc>>, String)> {
        let mut lines = Vec::new();
        f(&mut |time, line| lines.push((time, line.to_owned()))).unwrap();
        lines
    }

    fn texts(lines: &[(Option<DateTime<Utc>>, String)]) -> Vec<&str> {
        lines.iter().map(|(_, l)| l.as_str()).collect()
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_read_from_tracing_and_postgres_lines() {
        let t = at("2026-12-03T14:58:40.123456Z");
        assert_eq!(
            line_time("2026-12-03T14:58:40.123456Z  INFO listening"),
            Some(t)
        );
        assert_eq!(
            line_time("\u{1b}[2m2026-12-03T14:58:40.123456Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m x"),
            Some(t)
        );
        assert_eq!(
            line_time("2026-12-03 14:58:40.123 UTC [42] LOG:  database system is ready"),
            Some(at("2026-12-03T14:58:40.123Z"))
        );
        assert_eq!(line_time("  at src/main.rs:3"), None);
        assert_eq!(line_time("2026 was a year"), None);
    }

    #[test]
    fn following_reads_only_what_was_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.log");
        let big: String = (0..20_000)
            .map(|i| format!("2026-12-03T10:00:00Z  INFO old line {i}\n"))
            .collect();
        append(&path, &big);
        let mut follower = Follower::new(path.clone());
        let first = collect(|emit| follower.read_first(Some(2), None, emit));
        assert_eq!(
            texts(&first),
            [
                "2026-12-03T10:00:00Z  INFO old line 19998",
                "2026-12-03T10:00:00Z  INFO old line 19999"
            ]
        );
        // The last lines were found from the end: the file was not read whole.
        assert!(
            follower.bytes_read < 2 * BLOCK as u64,
            "{}",
            follower.bytes_read
        );

        let before = follower.bytes_read;
        let new = "2026-12-03T10:00:01Z  INFO new\n  a continuation\nhalf";
        append(&path, new);
        let lines = collect(|emit| follower.poll(emit));
        assert_eq!(
            texts(&lines),
            ["2026-12-03T10:00:01Z  INFO new", "  a continuation"]
        );
        assert_eq!(
            lines[1].0,
            Some(at("2026-12-03T10:00:01Z")),
            "the line before's time"
        );
        assert_eq!(follower.bytes_read - before, new.len() as u64);
        assert!(
            collect(|emit| follower.poll(emit)).is_empty(),
            "nothing new, nothing read"
        );
        assert_eq!(follower.bytes_read - before, new.len() as u64);
        append(&path, " done\n");
        assert_eq!(texts(&collect(|emit| follower.poll(emit))), ["half done"]);
    }

    #[test]
    fn truncated_and_rotated_files_are_read_from_their_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("processor-1.log");
        append(&path, "one\ntwo\n");
        let mut follower = Follower::new(path.clone());
        assert_eq!(
            texts(&collect(|emit| follower.read_first(None, None, emit))),
            ["one", "two"]
        );

        // Truncated (`: > file`, copytruncate) and written again.
        std::fs::write(&path, "three\n").unwrap();
        assert_eq!(texts(&collect(|emit| follower.poll(emit))), ["three"]);

        // Rotated: the old file gets its last words, then the new one is read.
        append(&path, "four\nfive");
        std::fs::rename(&path, dir.path().join("processor-1.log.1")).unwrap();
        append(&path, "six\n");
        assert_eq!(
            texts(&collect(|emit| follower.poll(emit))),
            ["four", "five", "six"]
        );

        // Gone for a while: nothing, then the new file from its start.
        std::fs::remove_file(&path).unwrap();
        assert!(collect(|emit| follower.poll(emit)).is_empty());
        append(&path, "seven\n");
        assert_eq!(texts(&collect(|emit| follower.poll(emit))), ["seven"]);
    }

    #[test]
    fn since_keeps_the_lines_from_that_time_and_tail_the_last_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events-api.log");
        append(
            &path,
            "no time yet\n\
             2026-12-03T10:00:00Z  INFO a\n\
             2026-12-03T10:05:00Z  INFO b\n  b goes on\n\
             2026-12-03T10:10:00Z  INFO c\n",
        );
        let since = at("2026-12-03T10:05:00Z");
        let mut follower = Follower::new(path.clone());
        let lines = collect(|emit| follower.read_first(None, Some(since), emit));
        assert_eq!(
            texts(&lines),
            [
                "2026-12-03T10:05:00Z  INFO b",
                "  b goes on",
                "2026-12-03T10:10:00Z  INFO c"
            ]
        );
        let mut follower = Follower::new(path);
        let lines = collect(|emit| follower.read_first(Some(1), Some(since), emit));
        assert_eq!(texts(&lines), ["2026-12-03T10:10:00Z  INFO c"]);
        assert_eq!(stamp(lines[0].0), "2026-12-03T10:10:00.000000Z");
        assert_eq!(stamp(None).len(), 27);
    }
}
