//! The workspace's integration tests: they prove the sandbox's real peers work the way
//! vigil relies on (each product crate has its own test binary for its features).

mod contract;
mod dashboards;
mod icmp;
mod influxdb;
mod kubernetes;
mod real_kubelet;
mod snmp;
mod tenant_alerts;

use vigil_tests::unique;

/// The manifests `vigil tenant render` builds for a tenant file's text, as (kind, name, JSON).
fn render(
    yaml: &str,
    base: std::path::PathBuf,
) -> (
    vigil_deployer::tenant::validate::Tenant,
    Vec<(String, String, serde_json::Value)>,
) {
    use vigil_deployer::tenant::build::{self, Options};
    let file = vigil_deployer::tenant::spec::parse("test tenant", yaml).expect("valid spec");
    let tenant = vigil_deployer::tenant::Source {
        origin: "test tenant".into(),
        file,
        base,
        options: Default::default(),
    }
    .validate()
    .expect("valid tenant");
    let objects = build::manifests(&tenant, &Options::default())
        .expect("manifests build")
        .into_iter()
        .map(|o| {
            let value = serde_json::to_value(&o.object).expect("object serialises");
            (o.kind().to_owned(), o.name().to_owned(), value)
        })
        .collect();
    (tenant, objects)
}

/// One rendered object by kind and name.
fn find<'a>(
    objects: &'a [(String, String, serde_json::Value)],
    kind: &str,
    name: &str,
) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|(k, n, _)| k == kind && n == name)
        .map(|(_, _, v)| v)
        .unwrap_or_else(|| panic!("no {kind}/{name} in the rendered manifests"))
}
