//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod clusterrole;
mod clusterrolebinding;
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
mod rbac_table;
mod pod;
mod pod_status;
mod resourcequota;
mod role;
mod rolebinding;
mod secret;
mod service;
mod serviceaccount;
mod shared;
mod workload;

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
    pod::DEF,
    resourcequota::DEF,
    secret::DEF,
    serviceaccount::DEF,
    service::DEF,
    horizontalpodautoscaler::DEF,
    ingressclass::DEF,
    ingress::DEF,
    networkpolicy::DEF,
    clusterrolebinding::DEF,
    clusterrole::DEF,
    rolebinding::DEF,
    role::DEF,
];
