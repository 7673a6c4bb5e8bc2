//! Waiting for a condition with a deadline: the only way tests synchronise.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns `Ok(value)` or `timeout` passes. On timeout, panics
/// with `what` and the last reason `check` gave, so a failure says what was awaited.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        match check().await {
            Ok(value) => return value,
            Err(reason) if start.elapsed() >= timeout => {
                panic!("{what}: not true after {timeout:?}; last seen: {reason}")
            }
            Err(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}
