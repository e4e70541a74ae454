//! Kubernetes role-based access control as pure logic: no I/O, no storage.
//!
//! The API server builds a [`Policy`] from the Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings in its store (rebuilding it when they change) and asks it to
//! [`Policy::authorize`] every request, as upstream's RBAC authorizer does. Beside it:
//! [`aggregate`] computes aggregated ClusterRoles (the clusterrole-aggregation controller),
//! [`covers`] and [`confirm_no_escalation`] guard Role and binding writes, and
//! [`bootstrap_policy`] lists the default roles and bindings a cluster starts with.
//!
//! Start at [`Policy`].

mod aggregate;
mod attributes;
mod bootstrap;
mod escalation;
mod policy;
mod rule;

pub use aggregate::{aggregate, selector_matches};
pub use attributes::{Attributes, Decision, UserInfo, service_account_username};
pub use bootstrap::{AUTOUPDATE_ANNOTATION, BOOTSTRAPPING_LABEL, BootstrapPolicy, bootstrap_policy, node_rules};
pub use escalation::{EscalationError, breakdown_rule, compact_rules, compact_string, confirm_no_escalation, covers};
pub use policy::{Policy, RulesReview};
pub use rule::rule_allows;
