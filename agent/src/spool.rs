//! The durable spool: every batch is written to disk before it is sent and removed only
//! once InfluxDB accepted it, so an outage or an agent restart loses nothing. Batches are
//! sent oldest first. The spool is bounded: when a new batch does not fit, the oldest
//! batches are dropped and the loss is returned to the caller, which reports it.
//!
//! Points not yet in a batch are in the *journal* (`current.journal`): the batcher appends
//! every poll's lines to it before the poll's hand-over returns, so a killed process loses
//! nothing (the journal becomes a batch at the next start); the journal is not synced, so
//! a host crash may lose what arrived since the last batch (at most one `flush_interval`).
//! A batch that turns out unreadable is renamed `*.corrupt`, never silently deleted.
use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::Notify;

/// Where the spool lives and how large it may grow, resolved from `spool` by
/// [`crate::config`].
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub fsync: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("spool file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub points: u64,
    pub bytes: u64,
    pub gzip: bool,
    pub path: PathBuf,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    bytes: u64,
    points: u64,
    next_seq: u64,
    in_flight: BTreeSet<u64>,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    fsync: bool,
    state: Mutex<State>,
    notify: Notify,
    journal: Mutex<Option<fs::File>>,
}

/// The file holding the lines not yet batched.
pub const JOURNAL: &str = "current.journal";

/// What happened when a batch was added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Points of older batches dropped to stay within the bound.
    pub dropped_points: u64,
    pub dropped_batches: u64,
}

fn parse_name(name: &str) -> Option<(u64, u64, bool)> {
    let (stem, gzip) = match name.strip_suffix(".lp.gz") {
        Some(s) => (s, true),
        None => (name.strip_suffix(".lp")?, false),
    };
    let (seq, points) = stem.split_once('-')?;
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        points.parse().ok()?,
        gzip,
    ))
}

impl Spool {
    /// Opens (or creates) the spool directory and indexes the batches already in it.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> Result<Spool, SpoolError> {
        let derr = |source| SpoolError::Dir {
            dir: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(derr)?;
        let mut entries = Vec::new();
        for e in fs::read_dir(dir).map_err(derr)? {
            let e = e.map_err(derr)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.ends_with(".tmp") {
                // a write interrupted by a crash: it was never acknowledged to anyone
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some((seq, points, gzip)) = parse_name(&name) else {
                if name.ends_with(".lp") || name.ends_with(".lp.gz") {
                    tracing::warn!(dir = %dir.display(), file = %name, "spooled batch has a name that does not parse (SEQ-POINTS.lp[.gz]); left in place and not sent");
                }
                continue;
            };
            let bytes = e.metadata().map_err(derr)?.len();
            entries.push(Entry {
                seq,
                points,
                bytes,
                gzip,
                path,
            });
        }
        entries.sort_by_key(|e| e.seq);
        let state = State {
            bytes: entries.iter().map(|e| e.bytes).sum(),
            points: entries.iter().map(|e| e.points).sum(),
            next_seq: entries.last().map_or(0, |e| e.seq + 1),
            entries: entries.into(),
            in_flight: BTreeSet::new(),
        };
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            fsync,
            state: Mutex::new(state),
            notify: Notify::new(),
            journal: Mutex::new(None),
        };
        spool.recover_journal()?;
        Ok(spool)
    }

    /// Turns what a killed process left in the journal into a batch (complete lines only:
    /// a line cut by the kill was never handed over).
    fn recover_journal(&self) -> Result<(), SpoolError> {
        let path = self.dir.join(JOURNAL);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(SpoolError::File { path, source }),
        };
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines = text[..complete].iter().filter(|&&b| b == b'\n').count() as u64;
        if lines > 0 {
            self.push(&text[..complete], lines, false)?;
            tracing::info!(
                points = lines,
                "points of the previous run recovered from the journal"
            );
        }
        if complete < text.len() {
            tracing::warn!(
                bytes = text.len() - complete,
                "an incomplete line at the end of the journal was dropped (cut by a crash before its hand-over returned)"
            );
        }
        fs::remove_file(&path).map_err(|source| SpoolError::File {
            path: path.clone(),
            source,
        })?;
        self.sync_dir();
        Ok(())
    }

    fn journal_file(&self) -> std::sync::MutexGuard<'_, Option<fs::File>> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends lines not yet batched; when this returns they survive a process crash.
    pub fn journal_append(&self, text: &[u8]) -> Result<(), SpoolError> {
        if text.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(JOURNAL);
        let ferr = |source| SpoolError::File {
            path: path.clone(),
            source,
        };
        let mut guard = self.journal_file();
        if guard.is_none() {
            let f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(ferr)?;
            *guard = Some(f);
        }
        match guard.as_mut() {
            Some(f) => f.write_all(text).map_err(ferr),
            None => Ok(()),
        }
    }

    /// After a batch was pushed: the journal holds exactly `rest`, the lines still waiting.
    pub fn journal_replace(&self, rest: &[u8]) -> Result<(), SpoolError> {
        let path = self.dir.join(JOURNAL);
        let ferr = |source| SpoolError::File {
            path: path.clone(),
            source,
        };
        let mut guard = self.journal_file();
        match guard.as_mut() {
            Some(f) => {
                f.set_len(0).map_err(ferr)?;
                f.write_all(rest).map_err(ferr)
            }
            None if rest.is_empty() => Ok(()),
            None => {
                drop(guard);
                self.journal_append(rest)
            }
        }
    }

    /// Makes creates, renames and deletes in the spool directory durable (with `fsync`).
    fn sync_dir(&self) {
        if !self.fsync {
            return;
        }
        if let Err(error) = fs::File::open(&self.dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot sync the spool directory");
        }
    }

    /// Moves an unreadable batch aside (`<name>.corrupt`) and forgets it. Its points are
    /// lost for InfluxDB, but the file stays for a person to look at.
    pub fn quarantine(&self, e: &Entry) -> PathBuf {
        let mut to = e.path.clone().into_os_string();
        to.push(".corrupt");
        let to = PathBuf::from(to);
        {
            let mut st = self.lock();
            st.in_flight.remove(&e.seq);
            if let Some(i) = st.entries.iter().position(|x| x.seq == e.seq)
                && let Some(x) = st.entries.remove(i)
            {
                st.bytes -= x.bytes;
                st.points -= x.points;
            }
        }
        if let Err(error) = fs::rename(&e.path, &to) {
            tracing::error!(file = %e.path.display(), %error, "cannot move the unreadable batch aside");
        }
        self.sync_dir();
        to
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a batch. Older batches are dropped first if the bound would be exceeded.
    pub fn push(&self, body: &[u8], points: u64, gzip: bool) -> Result<Pushed, SpoolError> {
        let seq = {
            let mut st = self.lock();
            let s = st.next_seq;
            st.next_seq += 1;
            s
        };
        let name = format!("{seq:016x}-{points}.lp{}", if gzip { ".gz" } else { "" });
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let ferr = |source| SpoolError::File {
            path: path.clone(),
            source,
        };
        {
            let mut f = fs::File::create(&tmp).map_err(ferr)?;
            f.write_all(body).map_err(ferr)?;
            if self.fsync {
                f.sync_data().map_err(ferr)?;
            }
        }
        fs::rename(&tmp, &path).map_err(ferr)?;
        self.sync_dir();
        let bytes = body.len() as u64;
        let mut pushed = Pushed::default();
        {
            let mut st = self.lock();
            while st.bytes + bytes > self.max_bytes {
                let victim = st
                    .entries
                    .iter()
                    .position(|e| !st.in_flight.contains(&e.seq));
                let Some(i) = victim else { break };
                let Some(e) = st.entries.remove(i) else { break };
                let _ = fs::remove_file(&e.path);
                st.bytes -= e.bytes;
                st.points -= e.points;
                pushed.dropped_points += e.points;
                pushed.dropped_batches += 1;
            }
            st.bytes += bytes;
            st.points += points;
            // keep order by sequence even if pushes raced between seq allocation and here
            let pos = st
                .entries
                .iter()
                .position(|e| e.seq > seq)
                .unwrap_or(st.entries.len());
            st.entries.insert(
                pos,
                Entry {
                    seq,
                    points,
                    bytes,
                    gzip,
                    path,
                },
            );
        }
        self.notify.notify_one();
        Ok(pushed)
    }

    /// The oldest batch that is not already being sent, marked as being sent (it will
    /// not be dropped for space until it is removed or released).
    pub fn oldest(&self) -> Option<Entry> {
        let mut st = self.lock();
        let e = st
            .entries
            .iter()
            .find(|e| !st.in_flight.contains(&e.seq))
            .cloned();
        if let Some(e) = &e {
            st.in_flight.insert(e.seq);
        }
        e
    }

    /// Gives a batch back after a failed attempt; it will be handed out again.
    pub fn release(&self, e: &Entry) {
        self.lock().in_flight.remove(&e.seq);
    }

    /// Waits until a batch may be available.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    pub fn read(&self, e: &Entry) -> Result<Vec<u8>, SpoolError> {
        fs::read(&e.path).map_err(|source| SpoolError::File {
            path: e.path.clone(),
            source,
        })
    }

    /// Removes a batch after it was delivered (or definitively rejected).
    pub fn remove(&self, e: &Entry) {
        let mut st = self.lock();
        st.in_flight.remove(&e.seq);
        if let Some(i) = st.entries.iter().position(|x| x.seq == e.seq) {
            if let Some(x) = st.entries.remove(i) {
                st.bytes -= x.bytes;
                st.points -= x.points;
            }
            let _ = fs::remove_file(&e.path);
        }
        drop(st);
        self.sync_dir();
    }

    /// (batches, bytes, points) currently spooled.
    pub fn stats(&self) -> (usize, u64, u64) {
        let st = self.lock();
        (st.entries.len(), st.bytes, st.points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vigil-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_survive_reopen_in_order() {
        let d = dir("reopen");
        let s = Spool::open(&d, 1 << 20, false).unwrap();
        s.push(b"a 1\n", 1, false).unwrap();
        s.push(b"b 2\n", 2, false).unwrap();
        fs::write(d.join("0000000000000009-1.lp.tmp"), b"half").unwrap();
        drop(s);
        let s = Spool::open(&d, 1 << 20, false).unwrap();
        assert_eq!(s.stats(), (2, 8, 3));
        let e = s.oldest().unwrap();
        assert_eq!(s.read(&e).unwrap(), b"a 1\n");
        s.remove(&e);
        assert_eq!(s.read(&s.oldest().unwrap()).unwrap(), b"b 2\n");
        s.push(b"c 3\n", 1, false).unwrap();
        assert!(!d.join("0000000000000009-1.lp.tmp").exists());
    }

    #[test]
    fn overflow_drops_the_oldest_and_says_so() {
        let d = dir("overflow");
        let s = Spool::open(&d, 10, false).unwrap();
        assert_eq!(s.push(b"12345", 5, false).unwrap(), Pushed::default());
        assert_eq!(s.push(b"12345", 7, false).unwrap(), Pushed::default());
        let p = s.push(b"123", 3, false).unwrap();
        assert_eq!(
            p,
            Pushed {
                dropped_points: 5,
                dropped_batches: 1
            }
        );
        assert_eq!(s.stats(), (2, 8, 10));
        assert_eq!(s.oldest().unwrap().points, 7);
    }

    #[test]
    fn a_killed_process_leaves_its_journal_which_the_next_start_batches() {
        let d = dir("journal");
        let s = Spool::open(&d, 1 << 20, true).unwrap();
        s.journal_append(b"a 1\n").unwrap();
        s.journal_append(b"b 2\nc 3").unwrap(); // the kill cut the last line
        drop(s);
        let s = Spool::open(&d, 1 << 20, true).unwrap();
        assert_eq!(s.stats(), (1, 8, 2), "the complete lines became one batch");
        let e = s.oldest().unwrap();
        assert_eq!(s.read(&e).unwrap(), b"a 1\nb 2\n");
        assert!(!d.join(JOURNAL).exists());
        // after a flush the journal holds only what still waits
        s.journal_append(b"x 1\ny 2\n").unwrap();
        s.journal_replace(b"y 2\n").unwrap();
        drop(s);
        let s = Spool::open(&d, 1 << 20, true).unwrap();
        assert_eq!(s.stats().2, 3);
    }

    #[test]
    fn a_corrupt_batch_is_moved_aside_not_deleted() {
        let d = dir("corrupt");
        let s = Spool::open(&d, 1 << 20, false).unwrap();
        s.push(b"not gzip", 4, true).unwrap();
        let e = s.oldest().unwrap();
        let kept = s.quarantine(&e);
        assert_eq!(s.stats(), (0, 0, 0));
        assert_eq!(fs::read(&kept).unwrap(), b"not gzip");
        assert!(kept.to_string_lossy().ends_with(".lp.gz.corrupt"));
        drop(s);
        assert_eq!(Spool::open(&d, 1 << 20, false).unwrap().stats(), (0, 0, 0));
    }
}
