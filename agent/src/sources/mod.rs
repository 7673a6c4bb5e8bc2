//! Where data comes from: SNMP devices and ICMP echo.
pub mod icmp;
pub mod kubernetes;
pub mod snmp;
