//! Validators shared by many kinds, with upstream's messages: names and label syntax
//! ([`names`]), object metadata ([`meta`]).

pub mod config_key;
pub mod meta;
pub mod names;
pub mod service;
