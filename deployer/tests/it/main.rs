//! The deployer's one integration-test binary: `vigil` against the sandbox's real control plane.

mod agent_lifecycle;
mod agent_rbac;
mod agent_render;
mod agent_security;
mod agent_support;
mod agent_tenants;
mod cilium;
mod create;
mod failover;
mod guard;
mod invalid;
mod lifecycle;
mod permissions;
mod preflight;
mod real_agent;
mod real_failover;
mod real_flows;
mod real_support;
mod real_tenant;
mod render;
mod support;
mod terminal;
