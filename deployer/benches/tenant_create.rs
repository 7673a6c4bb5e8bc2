//! Creating 50 tenants against the sandbox: `vigil tenant apply` one by one, `vigil tenant
//! apply --parallel N` on a directory, and `vigil tenant render | kubectl apply -f -` for the
//! same specs. Prints per-tenant p50/p95 and totals, and the ratios, as Markdown.
//!
//! `cargo bench -p vigil-deployer --bench tenant_create` (VIGIL_BENCH_TENANTS, VIGIL_BENCH_PARALLEL)

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn spec(name: &str) -> String {
    format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  displayName: Benchmark {name}\n  \
         deviceCidrs: [10.20.0.0/16]\n  devices:\n  - name: core-sw-1\n    address: 10.20.0.1\n    \
         snmp: {{version: v2c, community: {{env: BENCH_COMMUNITY}}}}\n  - name: edge-rtr-1\n    address: 10.20.0.2\n"
    )
}

fn write_specs(dir: &Path, prefix: &str, n: usize) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(dir).expect("bench dir");
    (0..n)
        .map(|i| {
            let name = format!("{prefix}-{i:02}");
            let path = dir.join(format!("{name}.yaml"));
            std::fs::write(&path, spec(&name)).expect("write spec");
            (name, path)
        })
        .collect()
}

fn run(cmd: &mut std::process::Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Row {
    what: String,
    p50: Duration,
    p95: Duration,
    total: Duration,
}

fn row(what: &str, mut per: Vec<Duration>, total: Duration) -> Row {
    per.sort();
    Row {
        what: what.into(),
        p50: percentile(&per, 0.5),
        p95: percentile(&per, 0.95),
        total,
    }
}

fn main() {
    let Some(sandbox) = vigil_tests::sandbox() else {
        eprintln!("the tenant benchmark needs the sandbox: scripts/sandbox up");
        std::process::exit(1);
    };
    let n: usize = std::env::var("VIGIL_BENCH_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let parallel: usize = std::env::var("VIGIL_BENCH_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let run_id = format!("{:04x}", std::process::id() & 0xffff);
    let root = std::env::temp_dir().join(format!("vigil-bench-{run_id}"));
    let kubectl = sandbox.kube_bin.join("kubectl");
    let vigil = |args: &[&str]| {
        let mut c = std::process::Command::new(VIGIL);
        c.args(args)
            .env("KUBECONFIG", &sandbox.kubeconfig)
            .env("BENCH_COMMUNITY", "bench")
            .stdin(Stdio::null());
        c
    };

    // 1. vigil, one tenant per invocation.
    let seq = write_specs(&root.join("seq"), &format!("bs{run_id}"), n);
    let start = Instant::now();
    let per: Vec<Duration> = seq
        .iter()
        .map(|(_, p)| {
            run(&mut vigil(&[
                "tenant",
                "apply",
                "-f",
                p.to_str().expect("utf-8"),
            ]))
        })
        .collect();
    let sequential = row(
        "`vigil tenant apply -f T.yaml`, one at a time",
        per,
        start.elapsed(),
    );

    // 2. vigil, one invocation for the directory, N at a time (per-tenant times from its output).
    let par_dir = root.join("par");
    let _par = write_specs(&par_dir, &format!("bp{run_id}"), n);
    let par_arg = parallel.to_string();
    let start = Instant::now();
    let out = vigil(&[
        "tenant",
        "apply",
        "-f",
        par_dir.to_str().expect("utf-8"),
        "--parallel",
        &par_arg,
    ])
    .output()
    .expect("spawn");
    let total = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let per: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split(" applied in ")
                .nth(1)?
                .strip_suffix('s')?
                .parse::<f64>()
                .ok()
        })
        .map(Duration::from_secs_f64)
        .collect();
    assert_eq!(per.len(), n, "one timing per tenant");
    let par_what = format!("`vigil tenant apply -f DIR --parallel {parallel}`");
    let parallel_row = row(&par_what, per, total);

    // 3. The same specs rendered and piped into kubectl 1.20 (client-side apply), one at a time.
    let kc = write_specs(&root.join("kubectl"), &format!("bk{run_id}"), n);
    let start = Instant::now();
    let per: Vec<Duration> = kc
        .iter()
        .map(|(_, p)| {
            let script = format!(
                "{VIGIL} tenant render -f {} --kube-version 1.20 | {} --kubeconfig {} apply -f - >/dev/null",
                p.display(),
                kubectl.display(),
                sandbox.kubeconfig.display()
            );
            run(std::process::Command::new("bash").args(["-o", "pipefail", "-c", &script]))
        })
        .collect();
    let piped = row(
        "`vigil tenant render \\| kubectl apply -f -`, one at a time",
        per,
        start.elapsed(),
    );

    println!("{n} tenants, sandbox API server (Kubernetes 1.20.2 on loopback), 2 cores\n");
    println!("| method | p50 per tenant | p95 per tenant | total |");
    println!("| --- | --- | --- | --- |");
    for r in [&sequential, &parallel_row, &piped] {
        println!(
            "| {} | {:.3} s | {:.3} s | {:.2} s |",
            r.what,
            r.p50.as_secs_f64(),
            r.p95.as_secs_f64(),
            r.total.as_secs_f64()
        );
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "\nratio vigil / render|kubectl: p50 {:.2}, total {:.2} (one at a time); total {:.2} with --parallel {parallel}",
        ratio(sequential.p50, piped.p50),
        ratio(sequential.total, piped.total),
        ratio(parallel_row.total, piped.total)
    );

    // Clean up: every benchmark namespace, without waiting.
    let names: Vec<String> = seq
        .iter()
        .chain(&_par)
        .chain(&kc)
        .map(|(n, _)| n.clone())
        .collect();
    let mut del = std::process::Command::new(&kubectl);
    del.arg("--kubeconfig")
        .arg(&sandbox.kubeconfig)
        .args(["delete", "namespace", "--wait=false"])
        .args(&names);
    let _ = del.stdout(Stdio::null()).status();
    let _ = std::fs::remove_dir_all(root);
}
