//! Label keys vigil sets and selects on, and the `app.kubernetes.io/*` labels of everything it
//! makes.
use std::collections::BTreeMap;

use vigil_contract::names::NAME_LABEL;
pub use vigil_contract::names::{COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER, TENANT_LABEL};

/// The `app.kubernetes.io/*` labels of everything vigil makes (tenants and the cluster agent).
pub fn standard_labels(app: &str, instance: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_LABEL.to_owned(), app.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), instance.to_owned()),
        (COMPONENT_LABEL.to_owned(), component.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), "vigil".to_owned()),
        (MANAGED_BY_LABEL.to_owned(), MANAGER.to_owned()),
    ])
}
