//! Polling backoff for dead devices: after 3 failures in a row the device is polled every
//! 2nd, 4th, ... interval, at most every 8th, and at once normally again after a success.
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    max_skip: u32,
}

impl Backoff {
    pub fn new(interval: Duration) -> Self {
        // never wait longer than ~10 minutes between attempts
        let max_skip = (600 / interval.as_secs().max(1)).clamp(1, 8) as u32;
        Backoff {
            failures: 0,
            max_skip,
        }
    }

    /// Records a poll result; returns how many intervals until the next poll.
    pub fn after(&mut self, ok: bool) -> u32 {
        if ok {
            self.failures = 0;
            return 1;
        }
        self.failures += 1;
        if self.failures < 3 {
            1
        } else {
            (1u32 << (self.failures - 2).min(5)).min(self.max_skip)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_after_three_failures_and_recovers() {
        let mut b = Backoff::new(Duration::from_secs(60));
        let skips: Vec<u32> = (0..7).map(|_| b.after(false)).collect();
        assert_eq!(skips, vec![1, 1, 2, 4, 8, 8, 8]);
        assert_eq!(b.after(true), 1);
        assert_eq!(b.after(false), 1);
    }
}
