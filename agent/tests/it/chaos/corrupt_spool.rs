//! A damaged spool batch is never silently deleted or counted as sent.
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use vigil_tests::eventually;

use crate::common::{TempDir, influxql, rows};
use crate::influxd::Influxd;
use crate::writes::{pipeline, settings};

fn gzip(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// What a host crash without fsync can leave in the spool — a gzip stream cut short, a
/// plain batch cut in the middle of a line — beside a good batch: the real InfluxDB gets the
/// good one, the damaged ones are renamed `*.corrupt` with their bytes intact, and their
/// points are counted as dropped, not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_spool_batch_is_kept_aside_and_counted_as_dropped() {
    let dir = TempDir::new("chaos-corrupt-spool");
    std::fs::create_dir_all(dir.path().join("influxd")).unwrap();
    let influx = Influxd::start(dir.path().join("influxd")).await;
    influx.create_db("corrupt").await;
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let good = gzip("m v=1 1000000000\nm v=2 2000000000\n");
    let cut_gzip = good[..good.len() / 2].to_vec();
    let cut_plain = b"m v=3 3000000000\nm v=".to_vec();
    std::fs::write(spool.join("0000000000000001-2.lp.gz"), &cut_gzip).unwrap();
    std::fs::write(spool.join("0000000000000002-2.lp"), &cut_plain).unwrap();
    std::fs::write(spool.join("0000000000000003-2.lp.gz"), &good).unwrap();

    let p = pipeline(&dir, &settings(&influx.url, "corrupt"));
    eventually(
        "the spool is worked through",
        Duration::from_secs(30),
        || {
            let (written, dropped) = (
                p.metrics.points_written.load(Relaxed),
                p.metrics.points_dropped.load(Relaxed),
            );
            async move {
                if written + dropped >= 6 {
                    Ok(())
                } else {
                    Err(format!("{written} written, {dropped} dropped"))
                }
            }
        },
    )
    .await;
    assert_eq!(
        p.metrics.points_written.load(Relaxed),
        2,
        "only the good batch"
    );
    assert_eq!(
        p.metrics.points_dropped.load(Relaxed),
        4,
        "the damaged batches' points"
    );
    assert_eq!(
        std::fs::read(spool.join("0000000000000001-2.lp.gz.corrupt")).unwrap(),
        cut_gzip
    );
    assert_eq!(
        std::fs::read(spool.join("0000000000000002-2.lp.corrupt")).unwrap(),
        cut_plain
    );
    let v = influxql(&influx.url, "corrupt", "SELECT v FROM m")
        .await
        .unwrap();
    assert_eq!(rows(&v).len(), 2, "{v}");
}
