//! The cluster agent's installation: [`spec`] (flags and the alerting file, checked) →
//! [`build`] (typed objects, no client) → [`apply`] (server-side apply, pruning, upgrade,
//! uninstall) → [`status`] (per-node health, leader, last Slack delivery, rollout wait); [`uninstall`].

pub mod apply;
pub mod build;
pub mod spec;
pub mod status;
pub mod tenants;
pub mod uninstall;
