//! Defaulting shared by several kinds (upstream's `SetDefaults_*` functions of
//! `pkg/apis/core/v1/defaults.go`): pod specs, containers, probes and volumes, which
//! appear in Pods and in every workload's pod template. Kind-specific defaults live in
//! the kind's file under [`crate::defs`].

pub mod pod;
