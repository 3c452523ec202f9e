//! One module per command; each builds one result value (text and JSON).

pub mod diagnose;
pub mod install;
pub mod run;
pub mod status;
pub mod uninstall;
