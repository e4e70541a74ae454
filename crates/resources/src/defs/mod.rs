//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod configmap;
mod endpoints;
mod event;
mod namespace;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod secret;
mod service;
mod serviceaccount;
mod shared;

/// Every served resource, in discovery order.
pub static ALL: &[ResourceDef] = &[
    configmap::DEF,
    endpoints::DEF,
    event::DEF,
    namespace::DEF,
    node::DEF,
    persistentvolumeclaim::DEF,
    persistentvolume::DEF,
    secret::DEF,
    serviceaccount::DEF,
    service::DEF,
];
