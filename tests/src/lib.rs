//! End-to-end test support for egress-probe: a moto server for the AWS APIs, and the VPC
//! lab (network namespaces built from the EC2 configuration).

pub mod fault_front;
pub mod invoke_front;
pub mod lab;
pub mod lab_run;
pub mod moto;
pub mod runtime_api;
pub mod topology;
