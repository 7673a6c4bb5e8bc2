//! Server-side apply (field manager `vigil`) of one object, and what it did.
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;

use super::{MANAGER, Object};
use crate::cluster;

/// What apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Pruned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub object: String,
    pub outcome: Outcome,
}

/// Server-side apply with field manager `vigil`, taking over fields others changed.
pub async fn apply_one(client: &Client, o: &Object) -> Result<DynamicObject, cluster::Error> {
    apply_with(client, o, false).await
}

/// The same as a dry run: what the object would be (used to detect drift).
pub async fn apply_dry_run(client: &Client, o: &Object) -> Result<DynamicObject, cluster::Error> {
    apply_with(client, o, true).await
}

async fn apply_with(
    client: &Client,
    o: &Object,
    dry_run: bool,
) -> Result<DynamicObject, cluster::Error> {
    let ns = o.object.metadata.namespace.as_deref();
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &o.resource),
        None => Api::all_with(client.clone(), &o.resource),
    };
    let mut pp = PatchParams::apply(MANAGER).force();
    pp.dry_run = dry_run;
    let verb = if dry_run { "dry-run apply" } else { "apply" };
    api.patch(o.name(), &pp, &Patch::Apply(&o.object))
        .await
        .map_err(|e| {
            cluster::api_error("patch", &o.resource.plural, ns, Some(o.name()), e).with_verb(verb)
        })
}
