//! Connecting to the cluster, discovering what it serves, and saying clearly what went wrong.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Errors talking to the API server, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot load kubeconfig{}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig {
        path: Option<PathBuf>,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot create a Kubernetes client")]
    Client(#[source] kube::Error),
    /// RBAC refused a request: which verb on which resource is missing.
    #[error(
        "missing permission: verb {verb:?} on resource {resource:?}{group} {scope} for {user}; \
         ask a cluster administrator to grant it (docs/tenants.md lists every permission vigil needs)"
    )]
    Forbidden {
        verb: String,
        resource: String,
        group: String,
        scope: String,
        user: String,
    },
    /// The API server refused the request; `message` is its explanation.
    #[error("cannot {verb} {what}: {message}")]
    Rejected {
        verb: String,
        what: String,
        code: u16,
        message: String,
    },
    /// The request did not get an answer (connection, TLS, decoding).
    #[error("cannot {verb} {what}")]
    Api {
        verb: String,
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rejected { code: 404, .. })
    }

    /// The same error for another verb (e.g. "dry-run apply" instead of "patch").
    pub fn with_verb(self, verb: &str) -> Self {
        match self {
            Self::Rejected {
                what,
                code,
                message,
                ..
            } => Self::Rejected {
                verb: verb.into(),
                what,
                code,
                message,
            },
            Self::Api { what, source, .. } => Self::Api {
                verb: verb.into(),
                what,
                source,
            },
            other => other,
        }
    }
}

/// Where to connect: `--kubeconfig` and `--context`; `KUBECONFIG` when no path is given.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

pub async fn client(target: &Target) -> Result<Client, Error> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..Default::default()
    };
    let kubeconfig_err = |source| Error::Kubeconfig {
        path: target.kubeconfig.clone(),
        source,
    };
    let config = match &target.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(kubeconfig_err)?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(kubeconfig_err)?
        }
        None => Config::from_kubeconfig(&options)
            .await
            .map_err(kubeconfig_err)?,
    };
    Client::try_from(config).map_err(Error::Client)
}

/// Builds the error for a failed request: `verb` and `resource` (plural) describe it.
pub fn api_error(
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    source: kube::Error,
) -> Error {
    if let kube::Error::Api(status) = &source
        && status.code == 403
    {
        let parsed = parse_forbidden(&status.message);
        let scope = match namespace {
            Some(ns) => format!("in namespace {ns:?}"),
            None => "at cluster scope".to_owned(),
        };
        return Error::Forbidden {
            verb: parsed.verb.unwrap_or_else(|| verb.to_owned()),
            resource: parsed.resource.unwrap_or_else(|| resource.to_owned()),
            group: parsed
                .group
                .filter(|g| !g.is_empty())
                .map(|g| format!(" (API group {g:?})"))
                .unwrap_or_default(),
            scope,
            user: parsed.user.unwrap_or_else(|| "the current user".to_owned()),
        };
    }
    let what = match (namespace, name) {
        (Some(ns), Some(n)) => format!("{resource} {ns}/{n}"),
        (None, Some(n)) => format!("{resource} {n}"),
        (Some(ns), None) => format!("{resource} in namespace {ns}"),
        (None, None) => resource.to_owned(),
    };
    match source {
        kube::Error::Api(status) => Error::Rejected {
            verb: verb.to_owned(),
            what,
            code: status.code,
            message: status.message.trim_end().to_owned(),
        },
        source => Error::Api {
            verb: verb.to_owned(),
            what,
            source,
        },
    }
}

#[derive(Default)]
struct Forbidden {
    user: Option<String>,
    verb: Option<String>,
    resource: Option<String>,
    group: Option<String>,
}

/// Reads `User "u" cannot VERB resource "R" in API group "G" ...` from an RBAC denial.
fn parse_forbidden(message: &str) -> Forbidden {
    let quoted_after = |marker: &str| {
        let rest = &message[message.find(marker)? + marker.len()..];
        let rest = rest.strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_owned())
    };
    let verb = message
        .find(" cannot ")
        .map(|i| &message[i + " cannot ".len()..])
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned);
    Forbidden {
        user: quoted_after("User "),
        verb,
        resource: quoted_after("resource "),
        group: quoted_after("API group "),
    }
}

/// What the cluster serves where versions differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// `policy/v1` or, on Kubernetes before 1.21, `policy/v1beta1`.
    pub pdb_api_version: String,
    /// Whether the requested CiliumNetworkPolicy group/version is served.
    pub cilium: bool,
}

/// Asks the API server (two small discovery requests, concurrently).
pub async fn discover(client: &Client, cilium_api_version: &str) -> Result<Capabilities, Error> {
    let serves = |gv: String, plural: &'static str| {
        let client = client.clone();
        async move {
            match client.list_api_group_resources(&gv).await {
                Ok(list) => Ok(list.resources.iter().any(|r| r.name == plural)),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
                Err(e) => Err(api_error("discover", &format!("API {gv}"), None, None, e)),
            }
        }
    };
    let (pdb_v1, cilium) = futures::try_join!(
        serves("policy/v1".into(), "poddisruptionbudgets"),
        serves(cilium_api_version.to_owned(), "ciliumnetworkpolicies"),
    )?;
    Ok(Capabilities {
        pdb_api_version: if pdb_v1 {
            "policy/v1"
        } else {
            "policy/v1beta1"
        }
        .into(),
        cilium,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_message_is_parsed() {
        let m = r#"namespaces "acme" is forbidden: User "system:serviceaccount:t:vigil" cannot patch resource "namespaces" in API group "" at the cluster scope"#;
        let f = parse_forbidden(m);
        assert_eq!(f.user.as_deref(), Some("system:serviceaccount:t:vigil"));
        assert_eq!(f.verb.as_deref(), Some("patch"));
        assert_eq!(f.resource.as_deref(), Some("namespaces"));
        assert_eq!(f.group.as_deref(), Some(""));
    }
}
