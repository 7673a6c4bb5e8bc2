//! The deployer's one integration-test binary: `vigil` against the sandbox's real control plane.

mod cilium;
mod failover;
mod guard;
mod invalid;
mod lifecycle;
mod permissions;
mod render;
mod support;
