//! The review kinds of authentication.k8s.io/v1 and authorization.k8s.io/v1
//! (TokenReview, SelfSubjectReview, the access reviews, SelfSubjectRulesReview): create-only
//! questions the API server answers in the response and never stores.

use crate::strategy::{Typed, TypedStrategy};
use crate::{ResourceDef, Subresource};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenReview};
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
};
use std::marker::PhantomData;

const CREATE: &[&str] = &["create"];
const NONE: &[Subresource] = &[];

/// A review: decoded and defaulted like any kind, answered by the API server.
pub struct ReviewStrategy<T>(PhantomData<fn() -> T>);

impl<T> TypedStrategy for ReviewStrategy<T>
where
    T: serde::de::DeserializeOwned
        + serde::Serialize
        + schemars::JsonSchema
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
        + 'static,
{
    type Object = T;
}

const fn review<T>() -> Typed<ReviewStrategy<T>> {
    Typed(ReviewStrategy(PhantomData))
}

macro_rules! review_def {
    ($name:ident, $ty:ty, $group:literal, $kind:literal, $plural:literal, $singular:literal, $namespaced:literal, $definition:literal) => {
        pub const $name: ResourceDef = ResourceDef {
            group: $group,
            version: "v1",
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[],
            categories: &[],
            namespaced: $namespaced,
            verbs: CREATE,
            subresources: NONE,
            definition: $definition,
            strategy: &review::<$ty>(),
        };
    };
}

review_def!(
    SELF_SUBJECT_REVIEW,
    SelfSubjectReview,
    "authentication.k8s.io",
    "SelfSubjectReview",
    "selfsubjectreviews",
    "selfsubjectreview",
    false,
    "io.k8s.api.authentication.v1.SelfSubjectReview"
);
review_def!(
    TOKEN_REVIEW,
    TokenReview,
    "authentication.k8s.io",
    "TokenReview",
    "tokenreviews",
    "tokenreview",
    false,
    "io.k8s.api.authentication.v1.TokenReview"
);
review_def!(
    LOCAL_SUBJECT_ACCESS_REVIEW,
    LocalSubjectAccessReview,
    "authorization.k8s.io",
    "LocalSubjectAccessReview",
    "localsubjectaccessreviews",
    "localsubjectaccessreview",
    true,
    "io.k8s.api.authorization.v1.LocalSubjectAccessReview"
);
review_def!(
    SELF_SUBJECT_ACCESS_REVIEW,
    SelfSubjectAccessReview,
    "authorization.k8s.io",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    false,
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview"
);
review_def!(
    SELF_SUBJECT_RULES_REVIEW,
    SelfSubjectRulesReview,
    "authorization.k8s.io",
    "SelfSubjectRulesReview",
    "selfsubjectrulesreviews",
    "selfsubjectrulesreview",
    false,
    "io.k8s.api.authorization.v1.SelfSubjectRulesReview"
);
review_def!(
    SUBJECT_ACCESS_REVIEW,
    SubjectAccessReview,
    "authorization.k8s.io",
    "SubjectAccessReview",
    "subjectaccessreviews",
    "subjectaccessreview",
    false,
    "io.k8s.api.authorization.v1.SubjectAccessReview"
);
