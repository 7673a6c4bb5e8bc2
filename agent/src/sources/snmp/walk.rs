//! Table walks: all columns of a table in lockstep with GETBULK. `max-repetitions` halves
//! on `tooBig` (and the smaller value is kept for the device's next polls); if one row is
//! still too big, fewer columns are asked per request.
use super::client::{SnmpError, SnmpSession};
use super::oid::Oid;
use super::value::SnmpValue;

/// Rows of one column: (row index, value), in walk order.
pub type ColumnRows = Vec<(Vec<u32>, SnmpValue)>;

pub struct WalkStats {
    pub requests: u32,
}

/// Walks `columns`; returns one row list per column (same order). `max_reps` is adjusted in
/// place when the agent answers `tooBig`.
pub async fn walk_columns(
    session: &mut SnmpSession,
    columns: &[Oid],
    max_reps: &mut u32,
    stats: &mut WalkStats,
) -> Result<Vec<ColumnRows>, SnmpError> {
    let mut out: Vec<ColumnRows> = vec![Vec::new(); columns.len()];
    let mut cursor: Vec<Oid> = columns.to_vec();
    let mut done = vec![false; columns.len()];
    // how many columns go into one request (shrinks only if a single row is too big)
    let mut per_request = columns.len().max(1);
    while let Some(first) = done.iter().position(|d| !d) {
        let batch: Vec<usize> = (first..columns.len())
            .filter(|&i| !done[i])
            .take(per_request)
            .collect();
        let oids: Vec<Oid> = batch.iter().map(|&i| cursor[i].clone()).collect();
        stats.requests += 1;
        let varbinds = match session.bulk(&oids, *max_reps).await {
            Ok(v) => v,
            Err(SnmpError::TooBig) if *max_reps > 1 => {
                *max_reps = (*max_reps / 2).max(1);
                continue;
            }
            Err(SnmpError::TooBig) if per_request > 1 => {
                per_request = (per_request / 2).max(1);
                continue;
            }
            Err(e) => return Err(e),
        };
        if varbinds.is_empty() {
            return Err(SnmpError::Protocol("empty GETBULK response".into()));
        }
        let n = batch.len();
        if varbinds.len() < n {
            // the agent truncated the response below one row: ask for fewer columns
            per_request = varbinds.len();
        }
        let mut progressed = false;
        for (j, (oid, value)) in varbinds.into_iter().enumerate() {
            let c = batch[j % n];
            if done[c] {
                continue;
            }
            let Some(index) = oid.suffix_after(&columns[c]) else {
                done[c] = true;
                continue;
            };
            if matches!(value, SnmpValue::EndOfMibView) || index.is_empty() {
                done[c] = true;
                continue;
            }
            if oid <= cursor[c] {
                // an agent that does not increase OIDs would loop forever
                done[c] = true;
                continue;
            }
            let index = index.to_vec();
            cursor[c] = oid;
            if value.is_value() {
                out[c].push((index, value));
            }
            progressed = true;
        }
        if !progressed {
            for &c in &batch {
                done[c] = true;
            }
        }
    }
    Ok(out)
}
