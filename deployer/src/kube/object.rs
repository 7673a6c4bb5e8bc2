//! One object to apply, with the resource it belongs to, and its rendering as YAML.
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde::Serialize;

/// A typed object that does not serialise into a Kubernetes object.
#[derive(Debug, thiserror::Error)]
#[error("serialising {kind} {name}")]
pub struct ObjectError {
    kind: String,
    name: String,
    #[source]
    source: serde_json::Error,
}

/// One object to apply, with the resource it belongs to.
#[derive(Debug, Clone)]
pub struct Object {
    pub resource: ApiResource,
    pub object: DynamicObject,
}

impl Object {
    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or_default()
    }

    /// `kind/name`, as kubectl prints it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.resource.kind.to_lowercase(), self.name())
    }

    pub(crate) fn typed<K>(obj: &K) -> Result<Self, ObjectError>
    where
        K: kube::Resource<DynamicType = ()> + Serialize,
    {
        let resource = ApiResource::erase::<K>(&());
        Self::with_resource(resource, obj)
    }

    pub(crate) fn with_resource<K: Serialize>(
        resource: ApiResource,
        obj: &K,
    ) -> Result<Self, ObjectError> {
        let err = |source| ObjectError {
            kind: resource.kind.clone(),
            name: String::new(),
            source,
        };
        let mut value = serde_json::to_value(obj).map_err(err)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".into(), resource.api_version.clone().into());
            map.insert("kind".into(), resource.kind.clone().into());
        }
        let object: DynamicObject = serde_json::from_value(value).map_err(err)?;
        Ok(Self { resource, object })
    }
}

/// An [`ApiResource`] for a group/version/kind not in k8s-openapi (CNPs, old PDBs).
pub fn resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Renders objects as multi-document YAML, as `kubectl apply -f -` reads it.
pub fn to_yaml(objects: &[Object]) -> Result<String, serde_norway::Error> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&o.object)?);
    }
    Ok(out)
}
