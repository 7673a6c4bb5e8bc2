//! What the tenant pipeline (`tenant/`) and the cluster agent's installation (`agent/`) both
//! need to make Kubernetes objects: the object to apply, the standard labels, probes and the
//! checksum that rolls pods when their configuration changes, and server-side apply of one object. Neither borrows from the other.
mod apply;
mod checksum;
mod labels;
mod object;
mod probe;

pub use apply::{Change, Outcome, apply_dry_run, apply_one};
pub use checksum::config_checksum;
pub use labels::{COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER, TENANT_LABEL, standard_labels};
pub use object::{Object, ObjectError, resource, to_yaml};
pub use probe::http_probe;
