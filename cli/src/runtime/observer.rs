//! How a runtime reports what it does while `up`, `down` and `clean` run, instead of
//! printing: the [`Observer`] trait. The command picks the implementation: the indicatif
//! view (`crate::progress::Progress`) on a terminal, [`Silent`] when nobody watches,
//! [`Recorder`] in tests, a channel of [`UpEvent`]s for a view that lives elsewhere (a
//! TUI). Each report is one [`UpEvent`]; the named methods are shorthands for them.

/// What a runtime reports, one [`UpEvent`] at a time. Names are replica names
/// (`collector`, `processor-2`), or service names where the runtime works per service
/// (kube, image builds).
pub trait Observer {
    fn report(&mut self, event: UpEvent);

    /// [`UpEvent::Names`].
    fn names(&mut self, names: &[String]) {
        self.report(UpEvent::Names(names.to_vec()));
    }
    /// [`UpEvent::Begin`].
    fn begin(&mut self, name: &str, what: &str) {
        self.report(UpEvent::Begin {
            name: name.to_owned(),
            what: what.to_owned(),
        });
    }
    /// [`UpEvent::Update`].
    fn update(&mut self, name: &str, what: &str) {
        self.report(UpEvent::Update {
            name: name.to_owned(),
            what: what.to_owned(),
        });
    }
    /// [`UpEvent::Ready`].
    fn ready(&mut self, name: &str, what: &str) {
        self.report(UpEvent::Ready {
            name: name.to_owned(),
            what: what.to_owned(),
        });
    }
    /// [`UpEvent::Failed`].
    fn failed(&mut self, name: &str, why: &str) {
        self.report(UpEvent::Failed {
            name: name.to_owned(),
            why: why.to_owned(),
        });
    }
    /// [`UpEvent::Note`].
    fn note(&mut self, text: &str) {
        self.report(UpEvent::Note(text.to_owned()));
    }
    /// [`UpEvent::BuildOutput`].
    fn build_output(&mut self, name: &str, line: &str) {
        self.report(UpEvent::BuildOutput {
            name: name.to_owned(),
            line: line.to_owned(),
        });
    }
}

/// One report of a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpEvent {
    /// The names this run will report on, before the first of them begins (a view can
    /// align them).
    Names(Vec<String>),
    /// `name` begins its wait, doing `what` (`starting`, `waiting for broker`,
    /// `pulling IMAGE`, `rolling out`).
    Begin { name: String, what: String },
    /// What `name` is doing changed (`already running`, `waiting for health`).
    Update { name: String, what: String },
    /// `name` is ready; `what` says where or how (`ready at http://127.0.0.1:8000`).
    Ready { name: String, what: String },
    /// `name` failed; the error the runtime returns says more.
    Failed { name: String, why: String },
    /// A line about the run as a whole: a warning (idle processors), a replica removed,
    /// a process stopped, the command being run.
    Note(String),
    /// One line of an image build's output (`up --build`) for service `name`.
    BuildOutput { name: String, line: String },
}

impl UpEvent {
    /// The name the event is about, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Begin { name, .. }
            | Self::Update { name, .. }
            | Self::Ready { name, .. }
            | Self::Failed { name, .. }
            | Self::BuildOutput { name, .. } => Some(name),
            Self::Names(_) | Self::Note(_) => None,
        }
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn report(&mut self, _: UpEvent) {}
}

/// Keeps every report, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub events: Vec<UpEvent>,
}

impl Observer for Recorder {
    fn report(&mut self, event: UpEvent) {
        self.events.push(event);
    }
}

/// For a view on another task (a TUI): every report goes down the channel.
impl Observer for tokio::sync::mpsc::UnboundedSender<UpEvent> {
    fn report(&mut self, event: UpEvent) {
        // A receiver that went away no longer watches; the run goes on.
        let _ = self.send(event);
    }
}
