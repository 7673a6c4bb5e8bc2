//! `vigil tenant apply -f A.yaml -f tenants/ --parallel N`: validate every file first (nothing
//! is applied if one is invalid), then apply N tenants at a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;

use super::args::ApplyArgs;
use super::{Error, flags, output};
use crate::cluster::{self, Target};
use crate::tenant::{LoadError, Source, apply};

/// Expands directories into their `*.yaml`/`*.yml` files, sorted.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let read = std::fs::read_dir(p).map_err(|source| {
                Error::Load(LoadError::Read {
                    path: p.display().to_string(),
                    source,
                })
            })?;
            let mut files: Vec<PathBuf> = read
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub async fn run(
    out: &mut impl Write,
    target: &Target,
    cilium: &str,
    a: ApplyArgs,
) -> Result<(), Error> {
    let files = expand(&a.files)?;
    if files.is_empty() {
        return Err(Error::Usage(
            "no tenant files found in the given paths".into(),
        ));
    }
    let mut tenants = Vec::with_capacity(files.len());
    let mut seen = std::collections::BTreeMap::new();
    for f in &files {
        let mut source = Source::read(Path::new(f))?;
        flags::apply_policy_flags(&mut source, &a.policy);
        let tenant = source.validate()?;
        if let Some(other) = seen.insert(tenant.name.to_string(), source.origin.clone()) {
            return Err(Error::Usage(format!(
                "{}: tenant {} is also defined in {other}; each tenant belongs in one file",
                source.origin, tenant.name
            )));
        }
        tenants.push((source.origin, tenant));
    }
    let client = cluster::client(target).await?;
    let results: Vec<_> = futures::stream::iter(tenants)
        .map(|(origin, tenant)| {
            let client = client.clone();
            let opts = apply::Options {
                cilium_api_version: cilium.to_owned(),
                create_only: false,
                origin,
                allow_broad_cidrs: a.policy.allow_broad_cidrs,
            };
            async move {
                let start = Instant::now();
                let r = apply::apply(&client, &tenant, &opts).await;
                (r, start.elapsed())
            }
        })
        .buffer_unordered(usize::from(a.parallel))
        .collect()
        .await;
    let mut first_error = None;
    let mut applied = Vec::new();
    for (result, elapsed) in results {
        match result {
            Ok(report) => {
                output::report(out, &report)?;
                writeln!(
                    out,
                    "tenant {} applied in {:.3}s",
                    report.tenant,
                    elapsed.as_secs_f64()
                )?;
                applied.push(report.tenant);
            }
            // The first error is returned (and printed by main); the others are printed here.
            Err(e) if first_error.is_none() => first_error = Some(e),
            Err(e) => writeln!(std::io::stderr(), "error: {}", crate::error::chain(&e))?,
        }
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    for tenant in applied {
        super::commands::wait_ready(out, &client, &tenant, cilium, a.wait.wait).await?;
    }
    Ok(())
}
