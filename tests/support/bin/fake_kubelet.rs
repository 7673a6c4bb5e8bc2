//! `fake-kubelet`: keeps a pool of fake nodes Ready and runs their pods until stopped,
//! for the demo and for trying vigil by hand against the sandbox.
//!
//! Usage: fake-kubelet [--kubeconfig FILE] [--pool PREFIX] [--nodes N] [--pool-file FILE]
//! The pool's unique name is printed on stdout (and written to --pool-file), so workloads
//! can select and tolerate it.

use std::path::PathBuf;
use std::process::ExitCode;

use vigil_tests::{FakeKubelet, client_from_kubeconfig};

struct Args {
    kubeconfig: Option<PathBuf>,
    pool: String,
    nodes: usize,
    pool_file: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        kubeconfig: std::env::var_os("KUBECONFIG").map(PathBuf::from),
        pool: "demo".into(),
        nodes: 3,
        pool_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--kubeconfig" => args.kubeconfig = Some(PathBuf::from(value()?)),
            "--pool" => args.pool = value()?,
            "--nodes" => {
                let v = value()?;
                args.nodes = v
                    .parse()
                    .map_err(|_| format!("--nodes: {v:?} is not a number"))?;
            }
            "--pool-file" => args.pool_file = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fake-kubelet: {e}");
            return ExitCode::from(2);
        }
    };
    let client = match &args.kubeconfig {
        Some(path) => client_from_kubeconfig(path).await,
        None => match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("fake-kubelet: no kubeconfig: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let kubelet = match FakeKubelet::start(client, &args.pool, args.nodes).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("fake-kubelet: starting: {e:#}");
            return ExitCode::from(1);
        }
    };
    println!("{}", kubelet.pool());
    if let Some(file) = &args.pool_file
        && let Err(e) = std::fs::write(file, kubelet.pool())
    {
        eprintln!("fake-kubelet: writing {}: {e}", file.display());
        return ExitCode::from(1);
    }
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake-kubelet: {e}");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    match kubelet.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-kubelet: removing nodes: {e:#}");
            ExitCode::from(1)
        }
    }
}
