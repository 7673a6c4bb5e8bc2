//! Live progress for `--wait`: one line redrawn in place on a terminal, plain lines otherwise
//! (only when something changed, so logs stay short).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::tenant::status::Status;

pub struct Progress {
    tty: bool,
    last: String,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last: String::new(),
        }
    }

    fn show(&mut self, line: String) {
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if line != self.last {
            let _ = writeln!(err, "{line}");
        }
        self.last = line;
    }

    /// Any progress line (redrawn in place on a terminal).
    pub fn line(&mut self, line: String) {
        self.show(line);
    }

    pub fn status(&mut self, s: &Status) {
        let parts: Vec<String> = s
            .components
            .iter()
            .map(|c| format!("{} {}/{}", c.component, c.ready, c.desired))
            .chain(s.volumes.iter().map(|v| format!("{} {}", v.name, v.phase)))
            .collect();
        let state = if s.ready { "ready" } else { "waiting" };
        self.show(format!("{}: {state}: {}", s.tenant, parts.join(", ")));
    }

    pub fn deleting(&mut self, tenant: &str, elapsed: Duration) {
        let line = format!(
            "{tenant}: waiting for namespace deletion ({}s)",
            elapsed.as_secs()
        );
        if self.tty {
            self.show(line);
        } else if self.last.is_empty() {
            self.show(format!("{tenant}: waiting for namespace deletion"));
        }
    }

    /// Ends the in-place line on a terminal.
    pub fn finish(&mut self) {
        if self.tty && !self.last.is_empty() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
