//! `slack-recorder`: the tests' Slack stand-in as a process, for the demo and for trying
//! alerting by hand. It answers like Slack's incoming webhooks and Web API on 127.0.0.1,
//! prints its webhook base URL on stdout (and to --url-file), and appends every accepted
//! message to --out as one JSON line `{"method": ..., "text": ...}`.
//!
//! Usage: slack-recorder --out FILE [--url-file FILE]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vigil_tests::SlackRecorder;

#[tokio::main]
async fn main() -> ExitCode {
    let mut out = None;
    let mut url_file = None;
    let mut listen: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            ("--url-file", Some(v)) => url_file = Some(PathBuf::from(v)),
            ("--listen", Some(v)) => match v.parse() {
                Ok(ip) => listen = ip,
                Err(_) => {
                    eprintln!("slack-recorder: --listen takes an IP address, not {v:?}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: slack-recorder --out FILE [--url-file FILE] [--listen IP]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("usage: slack-recorder --out FILE [--url-file FILE] [--listen IP]");
        return ExitCode::from(2);
    };
    let recorder = match SlackRecorder::start_on(listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("slack-recorder: {e:#}");
            return ExitCode::from(1);
        }
    };
    let base = recorder.webhook_url("");
    println!("{base}");
    if let Some(file) = url_file
        && let Err(e) = std::fs::write(&file, &base)
    {
        eprintln!("slack-recorder: writing {}: {e}", file.display());
        return ExitCode::from(1);
    }
    let mut file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("slack-recorder: opening {}: {e}", out.display());
            return ExitCode::from(1);
        }
    };
    let mut written = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let delivered = recorder.delivered();
        for r in delivered.iter().skip(written) {
            let line = serde_json::json!({"method": r.method, "text": r.text()});
            if writeln!(file, "{line}").is_err() {
                return ExitCode::from(1);
            }
        }
        written = delivered.len();
    }
}
