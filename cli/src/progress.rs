//! Progress of `ptrack up`, one line per service with its elapsed time: live spinners on
//! a terminal, plain lines (one per change) otherwise, so logs of CI runs stay readable.
//! It is the terminal's [`Observer`] of a runtime; `down` and `clean` use its plain lines.

use std::{
    collections::BTreeMap,
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::runtime::observer::{Observer, UpEvent};

#[derive(Debug)]
pub struct Progress {
    /// `None` without a terminal: print plain lines.
    multi: Option<MultiProgress>,
    items: BTreeMap<String, Item>,
    width: usize,
}

#[derive(Debug)]
struct Item {
    started: Instant,
    bar: Option<ProgressBar>,
    done: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        Self::with_terminal(std::io::stderr().is_terminal())
    }

    pub fn with_terminal(terminal: bool) -> Self {
        Self {
            multi: terminal.then(MultiProgress::new),
            items: BTreeMap::new(),
            width: 12,
        }
    }

    /// Names are padded to the longest of these, so the lines align.
    fn set_names<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.width = names.into_iter().map(str::len).max().unwrap_or(0).max(12);
    }

    /// `name` starts its wait now, doing `what` (`starting`, `already running`...).
    fn add(&mut self, name: &str, what: &str) {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            let template = format!(
                "{{spinner}} {{prefix:<{}}} {{msg}} ({{elapsed}})",
                self.width
            );
            // The template is a literal with valid keys; only the width varies.
            bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
            bar.set_prefix(name.to_owned());
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("  {name:<w$} {what}", w = self.width);
        }
        self.items.insert(
            name.to_owned(),
            Item {
                started: Instant::now(),
                bar,
                done: false,
            },
        );
    }

    /// A change of what `name` is doing; plain output prints it only once per change.
    fn change(&mut self, name: &str, what: &str) {
        let width = self.width;
        if let Some(item) = self.items.get_mut(name) {
            match &item.bar {
                Some(bar) => {
                    if bar.message() != what {
                        bar.set_message(what.to_owned());
                    }
                }
                None => eprintln!(
                    "  {name:<width$} {what} ({})",
                    crate::duration::format(item.started.elapsed())
                ),
            }
        }
    }

    /// The line of `name` ends with `text` and the time it took.
    fn finish(&mut self, name: &str, text: &str) {
        let width = self.width;
        let Some(item) = self.items.get_mut(name) else {
            return;
        };
        if item.done {
            return;
        }
        item.done = true;
        let took = crate::duration::format(item.started.elapsed());
        match &item.bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template(&format!("  {{prefix:<{width}}} {{msg}}"))
                        // A literal template with valid keys.
                        .expect("a valid template"),
                );
                bar.finish_with_message(format!("{text} ({took})"));
            }
            None => eprintln!("  {name:<width$} {text} ({took})"),
        }
    }

    /// A line above the spinners (or a plain line).
    fn print(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                // Printing fails only when the terminal is gone; then there is no reader.
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Stops every spinner still turning (on an error), so the terminal is left clean.
    pub fn abandon(&mut self) {
        for item in self.items.values_mut() {
            if let Some(bar) = &item.bar
                && !item.done
            {
                bar.abandon();
            }
            item.done = true;
        }
    }
}

impl Observer for Progress {
    fn report(&mut self, event: UpEvent) {
        match event {
            UpEvent::Names(names) => self.set_names(names.iter().map(String::as_str)),
            UpEvent::Begin { name, what } => self.add(&name, &what),
            UpEvent::Update { name, what } => self.change(&name, &what),
            UpEvent::Ready { name, what } => self.finish(&name, &format!("✓ {what}")),
            UpEvent::Failed { name, why } => self.finish(&name, &format!("✗ {why}")),
            UpEvent::Note(text) => self.print(&text),
            UpEvent::BuildOutput { name, line } => self.print(&format!("  {name} | {line}")),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.abandon();
    }
}
