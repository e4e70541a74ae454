//! Why a service account token was refused, worded as kube-apiserver words it.

/// A token that claims to be a service account token but is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No configured key has the token's `kid`.
    #[error("invalid signature, no keys found")]
    NoKeys,
    /// No key verified the signature (or the header names another algorithm); one message
    /// per key tried.
    #[error("{}", .0.join(", "))]
    Signature(Vec<String>),
    /// The verified payload is not a JSON object of the expected shape.
    #[error("service account token claims could not be validated: {0}")]
    Claims(String),
    #[error("token issuer {0:?} is invalid")]
    Issuer(String),
    #[error("token audiences {token} is invalid for the target audiences {target}")]
    Audience { token: String, target: String },
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is not valid yet")]
    NotValidYet,
    #[error("service account token is issued in the future")]
    IssuedInTheFuture,
    /// A legacy token lacks a claim; the name is upstream's (`sub`, `namespace`,
    /// `secretName`, `serviceAccountName`, `serviceAccountUID`).
    #[error("{0} claim is missing")]
    MissingClaim(&'static str),
    #[error("sub claim is invalid")]
    InvalidSubject,
    /// The service account the token names does not exist.
    #[error("serviceaccounts \"{0}\" not found")]
    ServiceAccountNotFound(String),
    #[error("service account {0} has been deleted")]
    ServiceAccountDeleted(String),
    #[error("service account UID ({actual}) does not match claim ({claimed})")]
    ServiceAccountUid { actual: String, claimed: String },
    /// The pod, secret or node a bound token names is gone or being deleted.
    #[error("service account token has been invalidated")]
    Invalidated,
    /// The pod, secret or node a bound token names was replaced by one with another UID.
    #[error("{kind} UID ({actual}) does not match service account {kind} ref claim ({claimed})")]
    BoundObjectUid { kind: &'static str, actual: String, claimed: String },
    /// A legacy token's Secret is gone or being deleted.
    #[error("Token has been invalidated")]
    LegacyInvalidated,
    #[error("Token does not match server's copy")]
    LegacyTokenMismatch,
    #[error("ServiceAccount {0} has been deleted")]
    LegacyServiceAccountDeleted(String),
    #[error("ServiceAccount UID ({actual}) does not match claim ({claimed})")]
    LegacyServiceAccountUid { actual: String, claimed: String },
    #[error(
        "the token in secret {secret} for service account {service_account} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '{}' label from the secret to temporarily allow use of this token",
        super::INVALID_SINCE_LABEL
    )]
    LegacyMarkedInvalid { secret: String, service_account: String },
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}
