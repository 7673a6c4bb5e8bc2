//! Resource profiles (small/medium/large) and per-component overrides.

use serde::Serialize;

use super::{Checker, Problem, Quantity};
use crate::tenant::spec::{self, CpuMemory};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Small,
    Medium,
    Large,
}

/// requests and limits for one container.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentResources {
    pub request_cpu: Quantity,
    pub request_memory: Quantity,
    pub limit_cpu: Quantity,
    pub limit_memory: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    pub profile: Profile,
    pub influxdb: ComponentResources,
    pub grafana: ComponentResources,
    pub collector: ComponentResources,
}

/// (request cpu, request memory, limit cpu, limit memory) per profile and component.
fn defaults(profile: Profile) -> [[&'static str; 4]; 3] {
    match profile {
        Profile::Small => [
            ["250m", "512Mi", "1", "1Gi"],
            ["100m", "128Mi", "500m", "256Mi"],
            ["50m", "64Mi", "250m", "128Mi"],
        ],
        Profile::Medium => [
            ["500m", "1Gi", "2", "2Gi"],
            ["200m", "256Mi", "1", "512Mi"],
            ["100m", "128Mi", "500m", "256Mi"],
        ],
        Profile::Large => [
            ["1", "4Gi", "4", "8Gi"],
            ["500m", "512Mi", "2", "1Gi"],
            ["250m", "256Mi", "1", "512Mi"],
        ],
    }
}

pub(super) fn resources(c: &mut Checker, s: Option<&spec::ResourcesSpec>) -> Option<Resources> {
    let profile = match s.and_then(|s| s.profile.as_deref()).unwrap_or("small") {
        "small" => Profile::Small,
        "medium" => Profile::Medium,
        "large" => Profile::Large,
        other => {
            c.push(Problem::new(
                "spec.resources.profile",
                format!("unknown resource profile {other:?}"),
                "use small, medium or large, and override single values under spec.resources.<component>",
            ));
            return None;
        }
    };
    let [i, g, col] = defaults(profile);
    let influxdb = component(c, "influxdb", i, s.and_then(|s| s.influxdb.as_ref()));
    let grafana = component(c, "grafana", g, s.and_then(|s| s.grafana.as_ref()));
    let collector = component(c, "collector", col, s.and_then(|s| s.collector.as_ref()));
    Some(Resources {
        profile,
        influxdb: influxdb?,
        grafana: grafana?,
        collector: collector?,
    })
}

fn component(
    c: &mut Checker,
    name: &str,
    d: [&str; 4],
    over: Option<&spec::ComponentResources>,
) -> Option<ComponentResources> {
    let empty = CpuMemory::default();
    let req = over.and_then(|o| o.requests.as_ref()).unwrap_or(&empty);
    let lim = over.and_then(|o| o.limits.as_ref()).unwrap_or(&empty);
    let base = format!("spec.resources.{name}");
    let mut q = |field: &str, raw: &Option<String>, default: &str, what: &str, example: &str| {
        let raw = raw.as_deref().unwrap_or(default);
        c.check(Quantity::parse(
            &format!("{base}.{field}"),
            raw,
            what,
            example,
        ))
    };
    let request_cpu = q("requests.cpu", &req.cpu, d[0], "CPU", "250m");
    let request_memory = q("requests.memory", &req.memory, d[1], "memory", "512Mi");
    let limit_cpu = q("limits.cpu", &lim.cpu, d[2], "CPU", "1");
    let limit_memory = q("limits.memory", &lim.memory, d[3], "memory", "1Gi");
    let r = ComponentResources {
        request_cpu: request_cpu?,
        request_memory: request_memory?,
        limit_cpu: limit_cpu?,
        limit_memory: limit_memory?,
    };
    for (what, request, limit) in [
        ("cpu", &r.request_cpu, &r.limit_cpu),
        ("memory", &r.request_memory, &r.limit_memory),
    ] {
        if request.value() > limit.value() {
            c.push(Problem::new(
                &format!("{base}.requests.{what}"),
                format!("request {request} is above the limit {limit}"),
                format!("lower the request or raise {base}.limits.{what}"),
            ));
            return None;
        }
    }
    Some(r)
}
