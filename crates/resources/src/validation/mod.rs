//! Validators shared by many kinds, with upstream's messages: names and label syntax
//! ([`names`]), object metadata ([`meta`]).

pub mod meta;
pub mod names;
