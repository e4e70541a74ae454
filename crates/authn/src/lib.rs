//! kube-apiserver's bearer token authenticators, as pure logic over tokens, keys and the
//! objects they name.
//!
//! - [`TokenFile`]: the static `--token-auth-file` (CSV `token,user,uid,"group1,group2"`).
//! - [`serviceaccount`]: the service account signing key in the data directory
//!   ([`serviceaccount::SigningKey::load_or_create`]), the [`serviceaccount::Issuer`] that
//!   mints bound and legacy tokens, and the [`serviceaccount::Validator`] that checks them.
//!   Whether the objects a token is bound to still exist is the caller's to look up (it has
//!   the store): [`serviceaccount::BoundObjects::check`] decides once they are fetched.
//! - [`bootstrap`]: `abcdef.0123456789abcdef` tokens checked against their
//!   `bootstrap-token-<id>` Secret in `kube-system`.
//!
//! Every authenticator answers with a [`UserInfo`] that already carries
//! `system:authenticated`, as upstream's authenticated-group adder would add it.

pub mod bootstrap;
mod csv;
pub mod serviceaccount;
mod token_file;
mod user;

pub use csv::CsvError;
pub use token_file::{TokenFile, TokenFileError};
pub use user::{ALL_AUTHENTICATED, UserInfo};
