//! egress-probe: checks DNS, TCP and HTTPS egress from inside a VPC subnet and, when a
//! check fails, names the cause from the VPC's own configuration.
//!
//! Layout: `model` holds plain serialisable data shared by every other module; `checks`
//! is the data-plane edge (real packets); `snapshot` is the control-plane edge (the only
//! place AWS SDK types live); `diagnosis` is pure; `report` serialises results; `event`
//! turns an invocation event into a plan; `settings` is the contract with the installer
//! and the template (target syntax, defaults, `EGRESS_PROBE_*`); `handler` runs one
//! invocation.

pub mod aws;
pub mod checks;
pub mod config;
pub mod diagnosis;
pub mod event;
pub mod handler;
pub mod identity;
pub mod model;
pub mod permissions;
pub mod report;
pub mod settings;
pub mod snapshot;
