//! One file per served resource: its [`ResourceDef`] and strategy. [`ALL`] lists them
//! in discovery order.

use crate::ResourceDef;

mod clusterrole;
mod clusterrolebinding;
mod configmap;
mod controllerrevision;
mod cronjob;
mod csidriver;
mod csinode;
mod daemonset;
mod deployment;
mod endpoints;
mod endpointslice;
mod event;
mod events_v1;
mod horizontalpodautoscaler;
mod ingress;
mod ingressclass;
mod job;
mod lease;
mod limitrange;
mod namespace;
mod networkpolicy;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod pod;
mod pod_status;
mod poddisruptionbudget;
mod podtemplate;
mod priorityclass;
mod rbac_table;
mod replicaset;
mod replicationcontroller;
mod resourcequota;
mod reviews;
mod role;
mod rolebinding;
mod secret;
mod service;
mod serviceaccount;
mod shared;
mod statefulset;
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
    podtemplate::DEF,
    replicationcontroller::DEF,
    resourcequota::DEF,
    secret::DEF,
    serviceaccount::DEF,
    service::DEF,
    controllerrevision::DEF,
    daemonset::DEF,
    deployment::DEF,
    replicaset::DEF,
    statefulset::DEF,
    events_v1::DEF,
    reviews::SELF_SUBJECT_REVIEW,
    reviews::TOKEN_REVIEW,
    reviews::LOCAL_SUBJECT_ACCESS_REVIEW,
    reviews::SELF_SUBJECT_ACCESS_REVIEW,
    reviews::SELF_SUBJECT_RULES_REVIEW,
    reviews::SUBJECT_ACCESS_REVIEW,
    horizontalpodautoscaler::DEF,
    cronjob::DEF,
    job::DEF,
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
