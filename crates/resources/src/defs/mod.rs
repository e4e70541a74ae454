//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod configmap;

/// Every served resource, in discovery order.
pub static ALL: &[ResourceDef] = &[configmap::DEF];
