//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod configmap;
mod endpoints;
mod event;
mod horizontalpodautoscaler;
mod ingress;
mod ingressclass;
mod limitrange;
mod namespace;
mod networkpolicy;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod resourcequota;
mod secret;
mod service;
mod serviceaccount;
mod shared;

/// Every served resource, in discovery order.
pub static ALL: &[ResourceDef] = &[
    configmap::DEF,
    endpoints::DEF,
    event::DEF,
    limitrange::DEF,
    namespace::DEF,
    node::DEF,
    persistentvolumeclaim::DEF,
    persistentvolume::DEF,
    resourcequota::DEF,
    secret::DEF,
    serviceaccount::DEF,
    service::DEF,
    horizontalpodautoscaler::DEF,
    ingressclass::DEF,
    ingress::DEF,
    networkpolicy::DEF,
];
