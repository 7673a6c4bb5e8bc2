//! Failover time with vigil's default toleration (30 s) beside Kubernetes' default (300 s),
//! measured the same way against the sandbox. Prints a Markdown table for docs/benchmarks.md.
//!
//! `cargo bench -p vigil-deployer --bench failover`

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../tests/it/failover.rs"]
mod failover;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(sandbox) = vigil_tests::sandbox() else {
        eprintln!("the failover benchmark needs the sandbox: scripts/sandbox up");
        std::process::exit(1);
    };
    // One after the other: the node lifecycle controller rate-limits evictions per zone, so two
    // scenarios at once would slow each other down.
    let vigil = failover::measure(sandbox, 30).await;
    let kubernetes = failover::measure(sandbox, 300).await;
    println!("| tolerationSeconds | time until collector and Grafana run on another node |");
    println!("| --- | --- |");
    println!("| 30 (vigil default) | {:.1} s |", vigil.as_secs_f64());
    println!(
        "| 300 (Kubernetes default) | {:.1} s |",
        kubernetes.as_secs_f64()
    );
    println!(
        "\nnode monitor grace period {:?}; ratio {:.2}",
        sandbox.node_monitor_grace,
        vigil.as_secs_f64() / kubernetes.as_secs_f64()
    );
}
