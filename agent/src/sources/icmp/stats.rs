//! Round-trip statistics in Telegraf's `ping` schema.
use std::time::Duration;

use crate::point::{FieldValue, Point};

#[derive(Debug, Clone, PartialEq)]
pub struct PingStats {
    pub transmitted: u32,
    pub received: u32,
    /// min, avg, max, stddev in milliseconds (only when something was received)
    pub rtt_ms: Option<(f64, f64, f64, f64)>,
    /// Telegraf's result_code: 0 success, 1 no such host / nothing received, 2 ping error
    pub result_code: i64,
}

impl PingStats {
    pub fn unresolved() -> Self {
        PingStats {
            transmitted: 0,
            received: 0,
            rtt_ms: None,
            result_code: 1,
        }
    }

    pub fn error(_count: u16) -> Self {
        PingStats {
            transmitted: 0,
            received: 0,
            rtt_ms: None,
            result_code: 2,
        }
    }

    pub fn from_rtts(transmitted: u32, rtts: &[Duration], errors: u32) -> Self {
        let received = u32::try_from(rtts.len()).unwrap_or(u32::MAX);
        if transmitted == 0 {
            let _ = errors;
            return PingStats {
                transmitted,
                received: 0,
                rtt_ms: None,
                result_code: 2,
            };
        }
        if rtts.is_empty() {
            return PingStats {
                transmitted,
                received,
                rtt_ms: None,
                result_code: 1,
            };
        }
        let ms: Vec<f64> = rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        let n = ms.len() as f64;
        let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ms.iter().copied().fold(0.0, f64::max);
        let avg = ms.iter().sum::<f64>() / n;
        let var = ms.iter().map(|x| (x - avg) * (x - avg)).sum::<f64>() / n;
        PingStats {
            transmitted,
            received,
            rtt_ms: Some((min, avg, max, var.sqrt())),
            result_code: 0,
        }
    }

    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            return 100.0;
        }
        f64::from(self.transmitted - self.received) * 100.0 / f64::from(self.transmitted)
    }

    pub fn fields_into(&self, p: &mut Point) {
        p.field("result_code", FieldValue::Int(self.result_code));
        if self.result_code == 2 && self.transmitted == 0 {
            return;
        }
        p.field(
            "packets_transmitted",
            FieldValue::Int(i64::from(self.transmitted)),
        );
        p.field(
            "packets_received",
            FieldValue::Int(i64::from(self.received)),
        );
        p.field(
            "percent_packet_loss",
            FieldValue::Float(self.loss_percent()),
        );
        if let Some((min, avg, max, sd)) = self.rtt_ms {
            let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
            p.field("minimum_response_ms", FieldValue::Float(r3(min)));
            p.field("average_response_ms", FieldValue::Float(r3(avg)));
            p.field("maximum_response_ms", FieldValue::Float(r3(max)));
            p.field("standard_deviation_ms", FieldValue::Float(r3(sd)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lost_is_result_code_1_and_100_percent() {
        let s = PingStats::from_rtts(4, &[], 0);
        let mut p = Point::new("ping", 0);
        s.fields_into(&mut p);
        assert_eq!(p.fields["result_code"], FieldValue::Int(1));
        assert_eq!(p.fields["percent_packet_loss"], FieldValue::Float(100.0));
        assert!(!p.fields.contains_key("average_response_ms"));
    }

    #[test]
    fn statistics() {
        let rtts = [10, 20, 30].map(Duration::from_millis);
        let s = PingStats::from_rtts(4, &rtts, 0);
        let (min, avg, max, sd) = s.rtt_ms.unwrap();
        assert_eq!((min, avg, max), (10.0, 20.0, 30.0));
        assert!((sd - 8.165).abs() < 0.001);
        assert_eq!(s.loss_percent(), 25.0);
    }
}
