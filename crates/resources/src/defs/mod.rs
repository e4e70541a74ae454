//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod clusterrole;
mod clusterrolebinding;
mod configmap;
mod csidriver;
mod csinode;
mod endpoints;
mod endpointslice;
mod event;
mod events_v1;
mod horizontalpodautoscaler;
mod ingress;
mod ingressclass;
mod lease;
mod limitrange;
mod namespace;
mod networkpolicy;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod poddisruptionbudget;
mod priorityclass;
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
mod storageclass;
mod volumeattachment;
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
    events_v1::DEF,
    horizontalpodautoscaler::DEF,
    ingressclass::DEF,
    ingress::DEF,
    networkpolicy::DEF,
    poddisruptionbudget::DEF,
    clusterrolebinding::DEF,
    clusterrole::DEF,
    rolebinding::DEF,
    role::DEF,
    csidriver::DEF,
    csinode::DEF,
    storageclass::DEF,
    volumeattachment::DEF,
    priorityclass::DEF,
    lease::DEF,
    endpointslice::DEF,
];
