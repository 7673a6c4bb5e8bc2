//! Tenants' own Slack webhooks reach the agent through its Secret, copied by the operator's
//! `vigil agent install --slack-tenant-webhooks-from-tenants`: the agent never reads a
//! tenant's Secret itself, and nothing is printed.

use crate::agent_support::{clean_up, create_tenants, installed_agent_yaml, slack_secret};
use crate::support::{scratch, tenant_name, vigil_env, write_tenant};

const NOC: &str = "https://hooks.slack.com/services/TNOC/BNOC/noc-secret-value";
const ACME: &str = "https://hooks.slack.com/services/TACME/BACME/tenant-secret-value";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_webhooks_are_routed_from_the_tenants() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let ns = tenant_name("va-tw");
    let tenant = tenant_name("twacme");
    let quiet = tenant_name("twquiet");
    let dir = scratch(&ns);
    let file = write_tenant(
        &dir,
        "tenant.yaml",
        &format!(
            "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {tenant}\nspec:\n  \
             alerts:\n    slack:\n      webhook: {{env: IT_TW_ACME}}\n      channel: \"#acme-noc\"\n"
        ),
    );
    let env = [("IT_TW_ACME", ACME), ("IT_TW_NOC", NOC)];
    vigil_env(
        Some(sandbox),
        &[
            "tenant",
            "apply",
            "-f",
            file.to_str().expect("utf-8"),
            "--network-policy",
            "none",
        ],
        &env,
    )
    .await
    .ok();
    // A tenant without Slack gets no route.
    create_tenants(sandbox, &[&quiet]).await;
    let nowhere = format!("vigil-it/no-node={ns}");
    let install = [
        "agent",
        "install",
        "-n",
        &ns,
        "--slack-webhook-env",
        "IT_TW_NOC",
        "--slack-tenant-webhooks-from-tenants",
        "--node-selector",
        &nowhere,
    ];
    let run = vigil_env(Some(sandbox), &install, &env).await;
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("tenant {tenant}: its Slack webhook is routed")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&quiet), "{}", run.stdout);
    for secret in [NOC, ACME] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
    let data = slack_secret(&client, &ns).await;
    assert_eq!(data["webhook"].0, NOC.as_bytes());
    assert_eq!(data[&format!("tenant.{tenant}.webhook")].0, ACME.as_bytes());
    assert!(!data.contains_key(&format!("tenant.{quiet}.webhook")));
    let yaml = installed_agent_yaml(&client, &ns).await;
    assert!(
        yaml.contains(&format!("file: /etc/vigil-slack/tenant.{tenant}.webhook")),
        "{yaml}"
    );
    assert!(!yaml.contains(ACME));
    // The same again changes nothing.
    let run = vigil_env(Some(sandbox), &install, &env).await;
    run.ok();
    assert!(
        run.stdout
            .contains("0 created, 0 configured, 13 unchanged, 0 pruned"),
        "{}",
        run.stdout
    );

    clean_up(sandbox, &ns, &[&tenant, &quiet], dir).await;
}
