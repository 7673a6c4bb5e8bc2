//! A Slack stand-in for tests: an HTTP server on 127.0.0.1 that answers like Slack's
//! incoming webhooks (`POST /webhook/<name>` → `ok`) and Web API (`POST /api/chat.postMessage`
//! → `{"ok":true,"channel":..,"ts":..}`, `POST /api/chat.update`), records every request
//! (answered or not) and can be told to answer 429 with `Retry-After` or 500.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the recorder answers instead of accepting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: <seconds>`.
    RateLimited { retry_after_s: f64 },
    /// HTTP 500.
    ServerError,
    /// Slack's refusal `code`, as Slack answers it: the Web API with HTTP 200 and
    /// `{"ok": false, "error": code}`; a webhook with the code as text and its status
    /// (`invalid_token`/`action_prohibited` 403, `no_service`/`channel_not_found` 404,
    /// `channel_is_archived` 410, `invalid_payload`/`invalid_blocks`/`no_text` 400).
    Refused(&'static str),
}

fn webhook_status(code: &str) -> u16 {
    match code {
        "invalid_token" | "action_prohibited" => 403,
        "no_service" | "channel_not_found" | "no_team" => 404,
        "channel_is_archived" => 410,
        _ => 400,
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    /// `webhook/<name>`, `chat.postMessage` or `chat.update`.
    pub method: String,
    pub body: Value,
    pub authorization: Option<String>,
    pub status: u16,
    /// The `ts` the recorder assigned (postMessage) or was asked to update.
    pub ts: Option<String>,
}

impl Recorded {
    pub fn ok(&self) -> bool {
        self.status == 200
    }

    pub fn channel(&self) -> Option<&str> {
        self.body["channel"].as_str()
    }

    pub fn thread_ts(&self) -> Option<&str> {
        self.body["thread_ts"].as_str()
    }

    /// Every string in the payload, joined: what a reader of the message would see.
    pub fn text(&self) -> String {
        fn walk(v: &Value, out: &mut String) {
            match v {
                Value::String(s) => {
                    out.push_str(s);
                    out.push('\n');
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut s = String::new();
        walk(&self.body, &mut s);
        s
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    fail_next: Vec<Failure>,
    down: Option<Failure>,
    next_ts: u64,
    token: Option<String>,
    refuse_blocks: bool,
    refused_webhooks: std::collections::BTreeMap<String, &'static str>,
}

pub struct SlackRecorder {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl SlackRecorder {
    pub async fn start() -> anyhow::Result<SlackRecorder> {
        Self::start_on(std::net::Ipv4Addr::LOCALHOST.into()).await
    }

    /// A recorder listening on `ip` (e.g. the sandbox's `pod_host_addr`, for senders in pods).
    pub async fn start_on(ip: std::net::IpAddr) -> anyhow::Result<SlackRecorder> {
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            next_ts: 1_700_000_000,
            ..Default::default()
        }));
        let s = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, s).await;
                });
            }
        });
        Ok(SlackRecorder { addr, state, task })
    }

    pub fn webhook_url(&self, name: &str) -> String {
        format!("http://{}/webhook/{name}", self.addr)
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// Requests that were accepted (HTTP 200).
    pub fn delivered(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(Recorded::ok).collect()
    }

    /// The next `n` requests fail with `f`.
    pub fn fail_next(&self, n: usize, f: Failure) {
        lock(&self.state)
            .fail_next
            .extend(std::iter::repeat_n(f, n));
    }

    /// Every request fails with `f` until called with `None`.
    pub fn set_down(&self, f: Option<Failure>) {
        lock(&self.state).down = f;
    }

    /// The Web API accepts only this bot token (`invalid_auth` for any other), as after a
    /// rotation; `None` accepts any.
    pub fn require_token(&self, token: Option<&str>) {
        lock(&self.state).token = token.map(str::to_owned);
    }

    /// The webhook `name` answers `code` (e.g. `no_service`: deleted) until called with
    /// `None`.
    pub fn refuse_webhook(&self, name: &str, code: Option<&'static str>) {
        let mut st = lock(&self.state);
        match code {
            Some(c) => st.refused_webhooks.insert(name.to_owned(), c),
            None => st.refused_webhooks.remove(name),
        };
    }

    /// Refuse any message with `blocks` (`invalid_blocks`), accept plain text.
    pub fn refuse_blocks(&self, on: bool) {
        lock(&self.state).refuse_blocks = on;
    }
}

impl Drop for SlackRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut s: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // one request: head, then content-length bytes
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Value =
            serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
        buf.drain(..head_end + len);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let method = path
            .strip_prefix("/api/")
            .map(str::to_string)
            .or_else(|| path.strip_prefix('/').map(str::to_string))
            .unwrap_or_default();
        let (status, extra, answer, ts) = {
            let mut st = lock(&state);
            let failure = if st.fail_next.is_empty() {
                st.down
            } else {
                Some(st.fail_next.remove(0))
            };
            let failure = failure.or_else(|| {
                method
                    .strip_prefix("webhook/")
                    .and_then(|n| st.refused_webhooks.get(n))
                    .map(|c| Failure::Refused(c))
            });
            let (status, extra, answer, ts) = match failure {
                Some(Failure::RateLimited { retry_after_s }) => (
                    429,
                    format!("retry-after: {retry_after_s}\r\n"),
                    "rate_limited".to_string(),
                    None,
                ),
                Some(Failure::ServerError) => {
                    (500, String::new(), "internal error".to_string(), None)
                }
                Some(Failure::Refused(code)) if method.starts_with("webhook/") => {
                    (webhook_status(code), String::new(), code.to_string(), None)
                }
                Some(Failure::Refused(code)) => (
                    200,
                    String::new(),
                    json!({"ok": false, "error": code}).to_string(),
                    None,
                ),
                None if st.token.as_deref().is_some_and(|t| {
                    method.starts_with("chat.")
                        && header("authorization").as_deref() != Some(&format!("Bearer {t}"))
                }) =>
                {
                    let a = json!({"ok": false, "error": "invalid_auth"});
                    (200, String::new(), a.to_string(), None)
                }
                None if st.refuse_blocks && body.get("blocks").is_some() => {
                    if method.starts_with("webhook/") {
                        (400, String::new(), "invalid_blocks".to_string(), None)
                    } else {
                        let a = json!({"ok": false, "error": "invalid_blocks"});
                        (200, String::new(), a.to_string(), None)
                    }
                }
                None if method.starts_with("webhook/") => {
                    (200, String::new(), "ok".to_string(), None)
                }
                None if method == "chat.postMessage" => {
                    st.next_ts += 1;
                    let ts = format!("{}.000100", st.next_ts);
                    let a = json!({"ok": true, "channel": body["channel"], "ts": ts, "message": {"ts": ts}});
                    (200, String::new(), a.to_string(), Some(ts))
                }
                None if method == "chat.update" => {
                    let a = json!({"ok": true, "channel": body["channel"], "ts": body["ts"]});
                    (
                        200,
                        String::new(),
                        a.to_string(),
                        body["ts"].as_str().map(str::to_string),
                    )
                }
                None => (404, String::new(), "not found".to_string(), None),
            };
            st.requests.push(Recorded {
                at: Instant::now(),
                method: method.clone(),
                body: body.clone(),
                authorization: header("authorization"),
                status,
                ts: ts.clone(),
            });
            (status, extra, answer, ts)
        };
        let _ = ts;
        let reason = match status {
            200 => "OK",
            429 => "Too Many Requests",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            410 => "Gone",
            _ => "Internal Server Error",
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{extra}\r\n{answer}",
            if answer.starts_with('{') {
                "application/json"
            } else {
                "text/plain"
            },
            answer.len()
        );
        s.write_all(resp.as_bytes()).await?;
    }
}

/// Waits (with `eventually`) until `pred` holds for the recorded requests.
pub async fn wait_for<T>(
    rec: &SlackRecorder,
    what: &str,
    timeout: Duration,
    mut pred: impl FnMut(&[Recorded]) -> Option<T>,
) -> T {
    crate::eventually(what, timeout, || {
        let reqs = rec.delivered();
        let r = pred(&reqs).ok_or_else(|| {
            format!(
                "{} delivered: {:?}",
                reqs.len(),
                reqs.iter()
                    .map(|r| (&r.method, r.text().lines().next().map(str::to_string)))
                    .collect::<Vec<_>>()
            )
        });
        async move { r }
    })
    .await
}

/// Incident messages (thread parents, posted with a bot token) whose text contains `needle`.
pub fn parents<'a>(reqs: &'a [Recorded], needle: &str) -> Vec<&'a Recorded> {
    reqs.iter()
        .filter(|r| {
            r.method == "chat.postMessage" && r.thread_ts().is_none() && r.text().contains(needle)
        })
        .collect()
}

/// Thread replies under `ts`.
pub fn replies<'a>(reqs: &'a [Recorded], ts: &str) -> Vec<&'a Recorded> {
    reqs.iter()
        .filter(|r| r.method == "chat.postMessage" && r.thread_ts() == Some(ts))
        .collect()
}

/// `chat.update` calls on `ts`.
pub fn updates<'a>(reqs: &'a [Recorded], ts: &str) -> Vec<&'a Recorded> {
    reqs.iter()
        .filter(|r| r.method == "chat.update" && r.body["ts"].as_str() == Some(ts))
        .collect()
}

/// How many "resolved after" replies the thread `ts` has.
pub fn resolved_replies(reqs: &[Recorded], ts: &str) -> usize {
    replies(reqs, ts)
        .iter()
        .filter(|r| r.text().contains("resolved after"))
        .count()
}

/// The thread `ts` has its resolved reply and its parent was turned RESOLVED.
pub fn thread_resolved(reqs: &[Recorded], ts: &str) -> bool {
    resolved_replies(reqs, ts) > 0
        && updates(reqs, ts)
            .iter()
            .any(|r| r.text().contains("RESOLVED"))
}
