//! One function per subcommand.

use std::io::{BufRead, IsTerminal, Write};

use kube::Client;

use super::args::{ApplyArgs, Cli, Command, CreateArgs, DeleteArgs, RenderArgs, TenantCommand};
use super::progress::Progress;
use super::{Error, flags, output};
use crate::cluster::{self, Target};
use crate::tenant::{Source, apply, build, credentials, delete, status, wait};

pub async fn run(cli: Cli) -> Result<(), Error> {
    let target = Target {
        kubeconfig: cli.kubeconfig.clone(),
        context: cli.context.clone(),
    };
    let cilium = cli.cilium_api_version.clone();
    let mut out = std::io::stdout().lock();
    let cmd = match cli.command {
        Command::Tenant(cmd) => cmd,
        Command::Agent(cmd) => return super::agent::run(&mut out, &target, cmd).await,
    };
    match cmd {
        TenantCommand::Render(a) => render(&mut out, a),
        TenantCommand::Create(a) => create(&mut out, &target, &cilium, a).await,
        TenantCommand::Apply(a) => apply_file(&mut out, &target, &cilium, a).await,
        TenantCommand::Delete(a) => delete_tenant(&mut out, &target, &cilium, a).await,
        TenantCommand::List(a) => {
            let client = cluster::client(&target).await?;
            let rows = status::list(&client).await?;
            if !output::structured(&mut out, a.output, &rows)? {
                output::list(&mut out, &rows)?;
            }
            Ok(())
        }
        TenantCommand::Status(a) => {
            let client = cluster::client(&target).await?;
            let s = status::status(&client, &a.name, &cilium, true).await?;
            if !output::structured(&mut out, a.output.output, &s)? {
                output::status(&mut out, &s)?;
            }
            Ok(())
        }
        TenantCommand::Credentials(a) => {
            let client = cluster::client(&target).await?;
            let login = credentials::grafana(&client, &a.name).await?;
            if let Some(url) = &login.url {
                writeln!(out, "url:      {url}")?;
            }
            writeln!(out, "user:     {}", login.user)?;
            writeln!(out, "password: {}", login.password.expose())?;
            Ok(())
        }
    }
}

fn render(out: &mut impl Write, a: RenderArgs) -> Result<(), Error> {
    let mut source = match (&a.file, &a.name) {
        (Some(path), _) => Source::read(path)?,
        (None, Some(name)) => Source::from_flags(flags::tenant_file(name, &a.spec)),
        (None, None) => return Err(Error::Usage("give a tenant NAME or -f FILE".into())),
    };
    flags::apply_policy_flags(&mut source, &a.policy);
    // Only the webhooks' hosts are taken from the credentials, when readable here.
    let tenant = apply::with_readable_webhook_endpoints(&source.validate()?);
    let minor = flags::kube_minor(&a.kube_version)?;
    let opts = build::Options {
        pdb_api_version: if minor >= 21 {
            "policy/v1"
        } else {
            "policy/v1beta1"
        }
        .into(),
        ..Default::default()
    };
    let objects = build::manifests(&tenant, &opts)?;
    writeln!(
        out,
        "# Tenant {}: {} objects. Secrets ({}) are created by `vigil tenant apply` and never rendered.",
        tenant.name,
        objects.len(),
        build::secret_names(&tenant).join(", ")
    )?;
    if let Some(s) = &tenant.slack {
        let hosts: Vec<String> = s.egress().iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "# The collector's policies allow its Slack webhooks at {}{}.",
            hosts.join(", "),
            if s.webhook_endpoints.is_empty() {
                " (Slack's default: the webhook URLs cannot be read here)"
            } else {
                ""
            }
        )?;
    }
    let yaml = build::to_yaml(&objects).map_err(Error::EncodeYaml)?;
    write!(out, "{yaml}")?;
    Ok(())
}

async fn create(
    out: &mut impl Write,
    target: &Target,
    cilium: &str,
    a: CreateArgs,
) -> Result<(), Error> {
    let mut source = Source::from_flags(flags::tenant_file(&a.name, &a.spec));
    flags::apply_policy_flags(&mut source, &a.policy);
    let tenant = source.validate()?;
    let client = cluster::client(target).await?;
    let opts = apply::Options {
        cilium_api_version: cilium.to_owned(),
        create_only: true,
        origin: source.origin,
        allow_broad_cidrs: a.policy.allow_broad_cidrs,
    };
    let report = apply::apply(&client, &tenant, &opts).await?;
    output::report(out, &report)?;
    wait_ready(out, &client, &report.tenant, cilium, a.wait.wait).await
}

async fn apply_file(
    out: &mut impl Write,
    target: &Target,
    cilium: &str,
    a: ApplyArgs,
) -> Result<(), Error> {
    super::apply_many::run(out, target, cilium, a).await
}

pub(super) async fn wait_ready(
    out: &mut impl Write,
    client: &Client,
    tenant: &str,
    cilium: &str,
    timeout: Option<std::time::Duration>,
) -> Result<(), Error> {
    let Some(timeout) = timeout else {
        return Ok(());
    };
    let mut progress = Progress::new();
    let result = wait::ready(client, tenant, cilium, timeout, |s| progress.status(s)).await;
    progress.finish();
    result?;
    writeln!(out, "tenant {tenant} is ready")?;
    Ok(())
}

async fn delete_tenant(
    out: &mut impl Write,
    target: &Target,
    cilium: &str,
    a: DeleteArgs,
) -> Result<(), Error> {
    if a.purge && !a.yes {
        confirm(&a.name)?;
    }
    let client = cluster::client(target).await?;
    if a.purge {
        delete::purge(&client, &a.name).await?;
        writeln!(
            out,
            "namespace/{} deletion started (volumes and Secrets included)",
            a.name
        )?;
        let timeout = a.wait.wait.unwrap_or(std::time::Duration::from_secs(300));
        let mut progress = Progress::new();
        let result = wait::gone(&client, &a.name, timeout, |e| progress.deleting(&a.name, e)).await;
        progress.finish();
        result?;
        writeln!(out, "tenant {} purged", a.name)?;
        return Ok(());
    }
    let report = delete::delete(&client, &a.name, cilium).await?;
    for d in &report.deleted {
        writeln!(out, "{d} deleted")?;
    }
    writeln!(out, "kept (data): {}", report.kept.join(", "))?;
    writeln!(
        out,
        "tenant {0} deleted; its data is kept. Re-create it with `vigil tenant apply -f`, or remove everything with `vigil tenant delete {0} --purge`",
        a.name
    )?;
    if let Some(timeout) = a.wait.wait {
        let mut progress = Progress::new();
        let result = wait::pods_gone(&client, &a.name, timeout, |n| {
            progress.line(format!("{}: waiting for {n} pod(s) to terminate", a.name))
        })
        .await;
        progress.finish();
        result?;
        writeln!(out, "tenant {}: all pods terminated", a.name)?;
    }
    Ok(())
}

/// Asks the operator to type the tenant name; without a terminal, --yes is required.
fn confirm(name: &str) -> Result<(), Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to purge tenant {name} without confirmation: standard input is not a terminal; pass --yes to confirm"
        )));
    }
    let mut err = std::io::stderr();
    write!(
        err,
        "This deletes tenant {name} with all its data (volumes, Secrets, namespace). Type the tenant name to confirm: "
    )?;
    err.flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    if line.trim() == name {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "confirmation {:?} does not match {name:?}; nothing was deleted",
            line.trim()
        )))
    }
}
