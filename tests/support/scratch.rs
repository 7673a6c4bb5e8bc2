//! Names, directories, ports and child processes for tests that share one sandbox and one
//! machine: every test binary uses these, none keeps its own copy.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// `prefix-xxxxx`: unique across the tests of this process (a counter) and, very likely,
/// across processes and runs sharing the sandbox (the pid and the clock). Five hex digits
/// keep Kubernetes names short.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mixed = nanos ^ std::process::id().rotate_left(7) ^ n.wrapping_mul(0x9e37_79b9);
    format!("{prefix}-{:05x}", mixed & 0xfffff)
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(unique(&format!("vigil-it-{name}")));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create a temp dir");
        TempDir(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file and returns its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("write a file in the temp dir");
        p
    }

    /// A secret reference for a configuration: the value goes into a file (tests cannot
    /// set environment variables safely).
    pub fn secret(&self, name: &str, value: &str) -> String {
        format!("{{file: {}}}", self.file(name, value).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process (an agent under test) whose stderr goes to a log file; killed with
/// SIGKILL when dropped.
pub struct ChildProcess {
    child: Child,
    pub log: PathBuf,
}

impl ChildProcess {
    /// Starts `cmd` with stdout discarded and stderr appended to `log`.
    pub fn spawn(mut cmd: Command, log: PathBuf) -> ChildProcess {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the process log");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("start the process under test");
        ChildProcess { child, log }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// A crash: SIGKILL, nothing flushed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `deadline` for the exit; panics (with the log) unless it
    /// exits successfully in time.
    pub fn terminate(&mut self, deadline: Duration) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + deadline;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    status.success(),
                    "process exited with {status}; log:\n{}",
                    self.logs()
                );
                return;
            }
            assert!(
                Instant::now() < until,
                "process did not stop on SIGTERM within {deadline:?}; log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
