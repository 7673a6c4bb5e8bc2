//! `vigil agent render`: golden output, and bad input refused with exit 2 before anything is
//! applied (no cluster is even contacted). Slack credentials never come from the command line.

use crate::support::{Run, golden_dir, scratch, vigil, vigil_env};

const WEBHOOK: &str = "https://hooks.slack.com/services/T000/B000/render-secret-value";

fn full_args() -> Vec<String> {
    let alerting = golden_dir().join("agent-full.alerting.yaml");
    [
        "--namespace",
        "noc-agent",
        "--image",
        "registry.example.net/vigil/vigil-agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "--config",
        alerting.to_str().expect("utf-8"),
        "--slack-channel",
        "#noc",
        "--slack-token-env",
        "NOC_SLACK_TOKEN",
        "--slack-tenant-webhook-env",
        "globex=GLOBEX_SLACK_WEBHOOK",
        "--icmp",
        "net-raw",
        "--max-unavailable",
        "10%",
        "--node-selector",
        "node-role.example.com/monitored=true",
        "--priority",
        "500000",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

async fn check_golden(name: &str, extra: &[String]) {
    let mut args = vec!["agent".to_owned(), "render".to_owned()];
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = vigil_env(None, &args, &[("NOC_SLACK_TOKEN", WEBHOOK)]).await;
    run.ok();
    assert!(!run.stdout.contains(WEBHOOK) && !run.stderr.contains(WEBHOOK));
    let golden = golden_dir().join(format!("agent-{name}.golden.yaml"));
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &run.stdout).expect("write golden file");
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("golden file exists (VIGIL_UPDATE_GOLDEN=1 writes it)");
    assert!(
        run.stdout == expected,
        "agent render {name} differs from {}; review the diff and re-run with VIGIL_UPDATE_GOLDEN=1",
        golden.display()
    );
}

#[tokio::test]
async fn default_install_matches_golden() {
    check_golden("default", &[]).await;
}

#[tokio::test]
async fn full_install_matches_golden() {
    check_golden("full", &full_args()).await;
}

#[tokio::test]
async fn render_for_an_old_cluster_falls_back_to_net_raw() {
    let run = vigil(None, &["agent", "render", "--kube-version", "1.17"]).await;
    run.ok();
    assert!(run.stdout.contains("- NET_RAW"), "{}", run.stdout);
    assert!(!run.stdout.contains("ping_group_range"));
    let run = vigil(None, &["agent", "render", "--kube-version", "1.20"]).await;
    run.ok();
    assert!(!run.stdout.contains("NET_RAW"));
    assert!(run.stdout.contains("name: net.ipv4.ping_group_range"));
}

#[track_caller]
fn refused(run: &Run, want: &str) {
    assert_eq!(
        run.code, 2,
        "exit code\nstdout:{}\nstderr:{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(want),
        "stderr lacks {want:?}:\n{}",
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "nothing rendered or applied: {}",
        run.stdout
    );
}

#[tokio::test]
async fn invalid_input_is_refused_with_what_where_and_how() {
    let dir = scratch("agent-invalid");
    let unknown = dir.join("unknown.yaml");
    std::fs::write(&unknown, "rules: {}\nslack:\n  default: {channel: x}\n").expect("write");
    let inline = dir.join("inline.yaml");
    std::fs::write(
        &inline,
        format!("maintenance:\n  - name: {WEBHOOK}\n    cron: '0 2 * * *'\n    duration: 1h\n"),
    )
    .expect("write");
    let owned = dir.join("owned.yaml");
    std::fs::write(&owned, "cluster:\n  namespace: elsewhere\n").expect("write");
    let owned = owned.to_str().expect("utf-8").to_owned();
    let unknown = unknown.to_str().expect("utf-8").to_owned();
    let inline = inline.to_str().expect("utf-8").to_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-n", "Vigil"],
            "--namespace: namespace \"Vigil\" contains characters",
        ),
        (vec!["-n", "kube-system"], "is a system namespace"),
        (vec!["-n", "default"], "is a system namespace"),
        (
            vec!["--image", "vigil-agent:latest"],
            "--image: image \"vigil-agent:latest\" uses the moving tag latest",
        ),
        (vec!["--image", "vigil-agent"], "has no tag"),
        (
            vec!["--max-unavailable", "0"],
            "--max-unavailable: \"0\" is not a number of nodes or a percentage",
        ),
        (
            vec!["--max-unavailable", "101%"],
            "is not a number of nodes or a percentage",
        ),
        (
            vec!["--priority", "2000000000"],
            "--priority: priority 2000000000 is out of range",
        ),
        (
            vec!["--slack-channel", "noc alerts"],
            "is not a Slack channel",
        ),
        (
            vec!["--slack-webhook-env", "1WEBHOOK"],
            "is not an environment variable name",
        ),
        (
            vec!["--config", "/nonexistent/alerting.yaml"],
            "--config: cannot read /nonexistent/alerting.yaml",
        ),
        (
            vec!["--config", &unknown],
            "at line 3, column 3: slack: unknown field `default`",
        ),
        (
            vec!["--config", &owned],
            "cluster: unknown field `namespace`",
        ),
        (
            vec!["--config", &inline],
            "maintenance[0].name: looks like a Slack credential written inline",
        ),
        (
            vec!["--slack-webhook-env", "A", "--slack-token-env", "B"],
            "--slack-webhook: both a webhook and a bot token were given",
        ),
        (vec!["--icmp", "raw"], "invalid value 'raw' for '--icmp"),
        (
            vec!["--slack-webhook-file", "/a", "--slack-webhook-env", "B"],
            "cannot be used with",
        ),
    ];
    for (extra, want) in &cases {
        for cmd in ["render", "install"] {
            let mut args = vec!["agent", cmd];
            args.extend_from_slice(extra);
            // No cluster at all: validation comes before connecting.
            let run = vigil(None, &args).await;
            refused(&run, want);
            assert!(!run.stderr.contains(WEBHOOK), "{}", run.stderr);
        }
    }
    // Slack settings that do not fit together.
    let tenants = dir.join("tenants.yaml");
    std::fs::write(
        &tenants,
        "slack:\n  tenants:\n    acme: {channel: C0ACME}\n",
    )
    .expect("write");
    let slack_cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--slack-token-env", "T"],
            "--slack-channel: a bot token needs the channel to post to",
        ),
        (
            vec!["--slack-webhook-env", "W", "--slack-channel", "#noc"],
            "--slack-channel: an incoming webhook posts to its own channel",
        ),
        (
            vec![
                "--slack-webhook-env",
                "W",
                "--config",
                tenants.to_str().expect("utf-8"),
            ],
            "slack.tenants.acme: a tenant route with a channel needs the bot token to post with",
        ),
        (
            vec![
                "--slack-token-env",
                "T",
                "--slack-channel",
                "C0NOC",
                "--slack-tenant-webhook-env",
                "acme=ACME_WEBHOOK",
                "--config",
                tenants.to_str().expect("utf-8"),
            ],
            "slack.tenants.acme: the tenant has both a channel here and a webhook of its own",
        ),
    ];
    for (extra, want) in &slack_cases {
        let mut args = vec!["agent", "render"];
        args.extend_from_slice(extra);
        refused(&vigil(None, &args).await, want);
    }
    // Every problem at once.
    let run = vigil(
        None,
        &[
            "agent",
            "install",
            "-n",
            "kube-x",
            "--image",
            "a:latest",
            "--max-unavailable",
            "x",
        ],
    )
    .await;
    refused(&run, "command line: 3 problems");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn slack_credentials_never_come_from_argv_and_are_read_at_install() {
    // There is no flag that takes the value itself.
    let run = vigil(None, &["agent", "install", "--slack-webhook", WEBHOOK]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unexpected argument '--slack-webhook'"),
        "{}",
        run.stderr
    );
    // Unreadable references: exit 2, before any cluster is contacted.
    let run = vigil(
        None,
        &[
            "agent",
            "install",
            "--slack-webhook-env",
            "VIGIL_IT_UNSET_WEBHOOK",
        ],
    )
    .await;
    refused(
        &run,
        "--slack-webhook: environment variable VIGIL_IT_UNSET_WEBHOOK is not set",
    );
    let run = vigil(
        None,
        &[
            "agent",
            "install",
            "--slack-token-file",
            "/nonexistent/token",
        ],
    )
    .await;
    refused(&run, "--slack-token: cannot read /nonexistent/token");
    let dir = scratch("agent-empty-token");
    let empty = dir.join("token");
    std::fs::write(&empty, "\n").expect("write");
    let run = vigil(
        None,
        &[
            "agent",
            "install",
            "--slack-token-file",
            empty.to_str().expect("utf-8"),
        ],
    )
    .await;
    refused(&run, "is empty");
    // A readable value gets as far as connecting (no kubeconfig here), never printed.
    let run = vigil_env(
        None,
        &["agent", "install", "--slack-webhook-env", "IT_WEBHOOK"],
        &[("IT_WEBHOOK", WEBHOOK)],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot load kubeconfig"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(WEBHOOK) && !run.stdout.contains(WEBHOOK));
    let _ = std::fs::remove_dir_all(dir);
}
