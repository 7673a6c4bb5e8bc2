//! Fault injection against the sandbox's real peers: each test breaks something at the
//! wrong moment (a corrupt file, a killed process, a dead peer) and checks the promise it
//! is named after.
mod api_outage;
mod bad_state;
mod corrupt_spool;
mod crash;
mod fencing;
mod gone_node;
mod leader_partition;
mod shutdown;
mod slack;
mod storm;
