//! vigil: deploys and manages per-tenant monitoring stacks on Kubernetes.

pub mod agent;
pub mod cli;
pub mod cluster;
pub mod error;
pub mod input;
pub mod kube;
pub mod tenant;
