//! `vigil-agent cluster --check`: a valid configuration is summarised; bad input is a
//! clear error with its location and exit code 2, and never prints a secret.
use std::process::Command;

use crate::common::{BIN, TempDir, secret};

fn check(dir: &TempDir, yaml: &str) -> (i32, String, String) {
    let p = dir.file("cluster.yaml", yaml);
    let out = Command::new(BIN)
        .args(["cluster", "--check", "--config"])
        .arg(&p)
        .env_remove("NODE_NAME")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn check_accepts_good_and_rejects_bad_configurations_with_exit_code_2() {
    let dir = TempDir::new("alerts-cli");
    let hook = secret(
        &dir,
        "hook",
        "https://hooks.slack.example/T0/B0/very-secret-value",
    );
    let (code, out, err) = check(
        &dir,
        &format!("slack: {{default: {{webhook: {hook}}}, tenants: {{acme: {{webhook: {hook}}}}}}}"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok (1 tenant route(s)"), "{out}");
    for (yaml, location) in [
        (
            format!("slack: {{default: {{webhook: {hook}}}}}\nrules: {{PodCrashLoop: {{}}}}"),
            "PodCrashLoop",
        ),
        (
            format!(
                "slack: {{default: {{webhook: {hook}}}}}\nmaintenance: [{{name: w, cron: 'nope', duration: 1h}}]"
            ),
            "maintenance[0]",
        ),
        (
            format!("slack: {{default: {{webhook: {hook}, channel: C1}}}}"),
            "slack.default.channel",
        ),
        (
            "slack: {default: {webhook: {file: /nonexistent/hook}}}".to_string(),
            "slack.default.webhook",
        ),
        (
            format!("slack: {{default: {{webhook: {hook}}}}}\ncluster: {{lease_durations: 3s}}"),
            "lease_durations",
        ),
    ] {
        let (code, out, err) = check(&dir, &yaml);
        assert_eq!(code, 2, "{yaml}: {err}");
        assert!(
            err.contains(location) && err.contains("cluster.yaml"),
            "{location}: {err}"
        );
        assert!(!err.contains("very-secret-value") && !out.contains("very-secret-value"));
    }
}
