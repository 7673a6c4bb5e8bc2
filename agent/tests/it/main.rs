//! Integration tests of vigil-agent against the sandbox's real peers.
