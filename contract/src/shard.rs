//! Which collector shard polls which device: rendezvous (highest-random-weight) hashing of
//! the device name. Every shard computes the same answer on its own from its index and the
//! shard count, so no coordination is needed; every device has exactly one owner; and when
//! the count changes from N to N+1 only the devices the new shard wins move (about 1/(N+1)),
//! the others stay where their spool and alert state are.
//!
//! The weight is part of the contract: `vigil tenant status` computes the assignment too,
//! and a change of the function would move every device at once.

/// The most shards a tenant's collector may have.
pub const MAX_SHARDS: u32 = 16;

/// One shard of `count`: `index` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("shard {0:?} is not K/N (e.g. 0/3: the first of three)")]
    Syntax(String),
    #[error("shard {index}/{count} is out of range: N is 1 to {MAX_SHARDS} and K is 0 to N-1")]
    Range { index: u32, count: u32 },
    #[error(
        "pod name {0:?} does not end in a StatefulSet ordinal (-0, -1, …); set the shard with --shard K/N"
    )]
    PodName(String),
}

impl Shard {
    /// The only shard: it owns every device.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || count > MAX_SHARDS || index >= count {
            return Err(ShardError::Range { index, count });
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, as `vigil-agent run --shard` takes it.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(syntax)?;
        let k = k.trim().parse().map_err(|_| syntax())?;
        let n = n.trim().parse().map_err(|_| syntax())?;
        Shard::new(k, n)
    }

    /// A StatefulSet pod's shard: its ordinal (`tenant-collector-2` is shard 2) of `count`.
    pub fn from_pod(pod: &str, count: u32) -> Result<Shard, ShardError> {
        let ordinal = pod
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .ok_or_else(|| ShardError::PodName(pod.to_string()))?;
        Shard::new(ordinal, count)
    }

    /// Whether this shard polls `device`.
    pub fn owns(&self, device: &str) -> bool {
        owner(device, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a over the shard index and the device name, finished with SplitMix64's mixer so
/// that similar names (`sw-001`, `sw-002`) spread evenly.
pub fn weight(device: &str, shard: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in shard.to_le_bytes().iter().chain(device.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The shard (of `count`) that polls `device`: the one with the highest weight (ties,
/// which a 64-bit hash makes vanishingly rare, go to the lower index).
pub fn owner(device: &str, count: u32) -> u32 {
    (0..count.max(1))
        .max_by_key(|k| (weight(device, *k), std::cmp::Reverse(*k)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN_WEIGHT: u64 = 0x3584_eb63_c561_d0d5;
    const PIN_OWNERS: [u32; 5] = [1, 2, 1, 1, 1];

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sw-{i:04}")).collect()
    }

    #[test]
    fn every_device_has_exactly_one_shard() {
        for count in 1..=MAX_SHARDS {
            for d in names(500) {
                let owners: Vec<u32> = (0..count)
                    .filter(|k| Shard::new(*k, count).unwrap().owns(&d))
                    .collect();
                assert_eq!(owners.len(), 1, "{d} of {count}: {owners:?}");
            }
        }
    }

    #[test]
    fn adding_a_shard_moves_only_what_the_new_one_takes() {
        let devices = names(10_000);
        for n in 1..MAX_SHARDS {
            let moved: Vec<&String> = devices
                .iter()
                .filter(|d| owner(d, n) != owner(d, n + 1))
                .collect();
            // every move goes to the new shard
            assert!(
                moved.iter().all(|d| owner(d, n + 1) == n),
                "{n} → {}",
                n + 1
            );
            // about 1/(n+1) of the devices; within 20 % of it
            let expected = devices.len() as f64 / f64::from(n + 1);
            let got = moved.len() as f64;
            assert!(
                (got - expected).abs() < expected * 0.2,
                "{n} → {}: {got} moved, expected about {expected}",
                n + 1
            );
        }
    }

    #[test]
    fn shards_are_balanced() {
        let devices = names(10_000);
        for n in [2u32, 3, 4, 16] {
            let mut per = vec![0usize; n as usize];
            for d in &devices {
                per[owner(d, n) as usize] += 1;
            }
            let fair = devices.len() / n as usize;
            assert!(
                per.iter().all(|c| c.abs_diff(fair) < fair / 5),
                "{n} shards: {per:?}"
            );
        }
    }

    #[test]
    fn the_assignment_is_fixed_by_the_contract() {
        // pinned: a change of the weight function would move every device of every tenant
        let owners: Vec<u32> = ["core-router-1", "fw-paris", "sw-0001", "sw-0002", "ap-17"]
            .iter()
            .map(|d| owner(d, 4))
            .collect();
        assert_eq!(weight("core-router-1", 3), PIN_WEIGHT);
        assert_eq!(owners, PIN_OWNERS);
    }

    #[test]
    fn shards_parse_from_flags_and_pod_names() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse(" 0 / 1 "), Ok(Shard::ALL));
        for bad in ["3/3", "0/0", "0/17", "1", "a/b", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard::from_pod("acme-collector-2", 3),
            Ok(Shard { index: 2, count: 3 })
        );
        assert!(matches!(
            Shard::from_pod("acme-collector-7d9f8-x2x", 3),
            Err(ShardError::PodName(_))
        ));
        assert!(matches!(
            Shard::from_pod("acme-collector-3", 3),
            Err(ShardError::Range { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_name_has_one_owner_and_moves_only_to_a_new_shard(
            device in "\\PC{0,40}",
            count in 1u32..MAX_SHARDS,
        ) {
            let owners = (0..count)
                .filter(|k| Shard { index: *k, count }.owns(&device))
                .count();
            proptest::prop_assert_eq!(owners, 1);
            let before = owner(&device, count);
            let after = owner(&device, count + 1);
            proptest::prop_assert!(after == before || after == count);
        }
    }
}
