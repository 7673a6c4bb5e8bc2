//! What the reflector stores keep of each object: only what the rules read. Managed
//! fields, annotations, pod specs (but the node name), pod templates and node image
//! lists are dropped as they arrive, which keeps a standalone agent watching every pod of a
//! large cluster small.
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, NodeStatus, PersistentVolumeClaim, Pod, PodSpec};
use kube::api::ObjectMeta;

pub trait Slim {
    fn slim(&mut self);
}

fn meta(m: &mut ObjectMeta) {
    m.managed_fields = None;
    m.annotations = None;
    // the watcher tracks versions itself; without it an unchanged object looks unchanged
    m.resource_version = None;
}

impl Slim for Pod {
    fn slim(&mut self) {
        meta(&mut self.metadata);
        let node_name = self.spec.as_ref().and_then(|s| s.node_name.clone());
        self.spec = Some(PodSpec {
            node_name,
            ..Default::default()
        });
        if let Some(s) = self.status.as_mut() {
            s.pod_ips = None;
            s.host_ips = None;
            for c in s.container_statuses.iter_mut().flatten() {
                c.image_id = String::new();
                c.container_id = None;
            }
        }
    }
}

impl Slim for Node {
    fn slim(&mut self) {
        meta(&mut self.metadata);
        if let Some(s) = self.status.take() {
            let mut conditions = s.conditions;
            // heartbeats change nothing a rule reads
            for c in conditions.iter_mut().flatten() {
                c.last_heartbeat_time = None;
                c.last_transition_time = None;
            }
            self.status = Some(NodeStatus {
                conditions,
                ..Default::default()
            });
        }
    }
}

impl Slim for Deployment {
    fn slim(&mut self) {
        meta(&mut self.metadata);
        if let Some(s) = self.spec.as_mut() {
            s.template = Default::default();
        }
    }
}

impl Slim for StatefulSet {
    fn slim(&mut self) {
        meta(&mut self.metadata);
        if let Some(s) = self.spec.as_mut() {
            s.template = Default::default();
            s.volume_claim_templates = None;
        }
    }
}

impl Slim for DaemonSet {
    fn slim(&mut self) {
        meta(&mut self.metadata);
        if let Some(s) = self.spec.as_mut() {
            s.template = Default::default();
        }
    }
}

impl Slim for PersistentVolumeClaim {
    fn slim(&mut self) {
        meta(&mut self.metadata);
    }
}
