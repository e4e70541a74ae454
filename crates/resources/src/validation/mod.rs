//! Validators shared by many kinds, with upstream's messages: names and label syntax
//! ([`names`]), object metadata ([`meta`]).

pub mod config_key;
pub mod container;
pub mod meta;
pub mod names;
pub mod pod;
pub mod rbac;
pub mod service;
pub mod workload;
