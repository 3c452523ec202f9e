//! One file per hop kind. Each step records its hops and issues on the walk and returns
//! what comes next; no step calls another, and none imports the dispatcher (`walk.rs`).

pub(crate) mod block_public_access;
pub(crate) mod destination;
pub(crate) mod egress_only_igw;
pub(crate) mod endpoint;
pub(crate) mod firewall_endpoint;
pub(crate) mod gwlb_endpoint;
pub(crate) mod internet_gateway;
pub(crate) mod nat_gateway;
pub(crate) mod not_verifiable;
pub(crate) mod peering;
pub(crate) mod route_table;
pub(crate) mod security_group;
pub(crate) mod source;
pub(crate) mod subnet_nacl;
pub(crate) mod subnet_route;
pub(crate) mod tgw_route_table;
pub(crate) mod transit_gateway;
