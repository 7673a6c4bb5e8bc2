//! On a terminal (a pseudo-terminal from util-linux `script`): typed purge confirmation and a
//! progress line redrawn in place; without one: plain lines and no escape sequences.

use std::process::Stdio;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use tokio::io::AsyncWriteExt;

use crate::support::{Run, tenant_name, vigil};

/// Runs `vigil ARGS` on a pseudo-terminal, typing `input`.
async fn on_tty(sandbox: &vigil_tests::Sandbox, args: &[&str], input: &str) -> Run {
    let command = std::iter::once(env!("CARGO_BIN_EXE_vigil").to_owned())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("KUBECONFIG", &sandbox.kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux script runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).await.expect("type");
    drop(stdin);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(180),
        child.wait_with_output(),
    )
    .await
    .expect("finished within 3 minutes")
    .expect("output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_asks_on_a_terminal_and_shows_live_progress() {
    let sandbox = vigil_tests::require_sandbox!();
    let namespaces: Api<Namespace> = Api::all(sandbox.client().await);
    let name = tenant_name("tty");
    let plain_name = tenant_name("plain");
    let _cleanup = crate::support::Cleanup::new(sandbox)
        .tenant(&name)
        .tenant(&plain_name);
    let s = Some(sandbox);
    vigil(s, &["tenant", "create", &name, "--network-policy", "none"])
        .await
        .ok();

    let wrong = on_tty(
        sandbox,
        &["tenant", "delete", &name, "--purge"],
        "not-the-name\n",
    )
    .await;
    assert_eq!(wrong.code, 2, "{}", wrong.stdout);
    assert!(
        wrong.stdout.contains("Type the tenant name to confirm"),
        "{}",
        wrong.stdout
    );
    assert!(wrong.stdout.contains("does not match"), "{}", wrong.stdout);
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_some(),
        "nothing deleted"
    );

    let typed = on_tty(
        sandbox,
        &["tenant", "delete", &name, "--purge"],
        &format!("{name}\n"),
    )
    .await;
    assert_eq!(typed.code, 0, "{}", typed.stdout);
    assert!(
        typed.stdout.contains("\r\x1b[2K"),
        "progress redrawn in place: {:?}",
        typed.stdout
    );
    assert!(
        typed.stdout.contains(&format!("tenant {name} purged")),
        "{}",
        typed.stdout
    );
    assert!(namespaces.get_opt(&name).await.expect("get").is_none());

    // Without a terminal: plain lines only.
    vigil(
        s,
        &["tenant", "create", &plain_name, "--network-policy", "none"],
    )
    .await
    .ok();
    let plain = vigil(s, &["tenant", "delete", &plain_name, "--purge", "--yes"]).await;
    plain.ok();
    assert!(
        !plain.stderr.contains('\x1b') && !plain.stdout.contains('\x1b'),
        "{:?}",
        plain.stderr
    );
    assert!(
        plain
            .stderr
            .contains(&format!("{plain_name}: waiting for namespace deletion\n")),
        "{:?}",
        plain.stderr
    );
}
