//! Tests of service account token validation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

use super::*;
use crate::serviceaccount::{Binding, DEFAULT_ISSUER, Issuer, SigningKey, TokenRequest};

const NOW: i64 = 1_750_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn issuer() -> Issuer {
    Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap())
}

fn request(binding: Binding) -> TokenRequest {
    TokenRequest {
        namespace: "ns".into(),
        service_account: ObjectRef::new("sa", "sa-uid"),
        audiences: vec![],
        expiration_seconds: 3600,
        binding,
        warn_after_seconds: None,
    }
}

#[test]
fn a_minted_bound_token_validates_to_its_user_and_bindings() {
    let issuer = issuer();
    let binding = Binding::Pod { pod: ObjectRef::new("web", "pod-uid"), node: Some(ObjectRef::new("n1", "node-uid")) };
    let (token, claims) = issuer.mint(&request(binding), at(NOW)).unwrap();
    let valid = issuer.validator().validate(&token, at(NOW + 10)).unwrap().unwrap();
    assert_eq!(valid.user.name, "system:serviceaccount:ns:sa");
    assert_eq!(valid.user.uid, "sa-uid");
    assert_eq!(valid.user.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]);
    assert_eq!(valid.user.extra["authentication.kubernetes.io/pod-name"], ["web"]);
    assert_eq!(valid.user.extra["authentication.kubernetes.io/pod-uid"], ["pod-uid"]);
    assert_eq!(valid.user.extra["authentication.kubernetes.io/node-name"], ["n1"]);
    assert_eq!(valid.user.extra["authentication.kubernetes.io/node-uid"], ["node-uid"]);
    assert_eq!(valid.user.extra["authentication.kubernetes.io/credential-id"], [format!("JTI={}", claims.jti)]);
    assert_eq!(valid.audiences, [DEFAULT_ISSUER]);
    assert_eq!(valid.claims, TokenClaims::Bound(Box::new(claims)));
    assert_eq!(valid.bound.pod, Some(ObjectRef::new("web", "pod-uid")));
    assert_eq!(valid.bound.node, None, "a pod's node is not a binding to check");
    assert_eq!(valid.bound.legacy_secret, None);

    let (node_token, _) = issuer.mint(&request(Binding::Node(ObjectRef::new("n1", "node-uid"))), at(NOW)).unwrap();
    let node_bound = issuer.validator().validate(&node_token, at(NOW)).unwrap().unwrap();
    assert_eq!(node_bound.bound.node, Some(ObjectRef::new("n1", "node-uid")));
}

#[test]
fn lifetime_is_checked_with_a_minute_of_leeway() {
    let issuer = issuer();
    let (token, _) = issuer.mint(&request(Binding::None), at(NOW)).unwrap();
    let validator = issuer.validator();
    assert!(validator.validate(&token, at(NOW + 3600 + 60)).is_ok());
    assert_eq!(validator.validate(&token, at(NOW + 3600 + 61)), Err(TokenError::Expired));
    assert!(validator.validate(&token, at(NOW - 60)).is_ok());
    assert_eq!(validator.validate(&token, at(NOW - 61)), Err(TokenError::NotValidYet));
    assert_eq!(TokenError::Expired.to_string(), "service account token has expired");
}

#[test]
fn audiences_must_meet_the_targets() {
    let issuer = issuer().with_api_audiences(vec!["api".into(), "k3s".into()]);
    let mut vault = request(Binding::None);
    vault.audiences = vec!["vault".into()];
    let (token, _) = issuer.mint(&vault, at(NOW)).unwrap();
    let err = issuer.validator().validate(&token, at(NOW)).unwrap_err();
    assert_eq!(err.to_string(), r#"token audiences ["vault"] is invalid for the target audiences ["api" "k3s"]"#);
    let for_vault = issuer.validator().validate_for(&token, &["vault".into()], at(NOW)).unwrap().unwrap();
    assert_eq!(for_vault.audiences, ["vault"]);
    let (default, _) = issuer.mint(&request(Binding::None), at(NOW)).unwrap();
    assert_eq!(issuer.validator().validate(&default, at(NOW)).unwrap().unwrap().audiences, ["api", "k3s"]);
}

#[test]
fn other_issuers_and_non_jwts_are_not_ours() {
    let ours = issuer();
    let theirs = Issuer::new("https://oidc.example", SigningKey::generate().unwrap());
    let (token, _) = theirs.mint(&request(Binding::None), at(NOW)).unwrap();
    assert_eq!(ours.validator().validate(&token, at(NOW)), Ok(None));
    for text in ["", "abc", "a.b", "a.b.c", "abcdef.0123456789abcdef", "{\"iss\":\"x\"}.e30.x"] {
        assert_eq!(ours.validator().validate(text, at(NOW)), Ok(None), "{text}");
    }
}

#[test]
fn keys_are_chosen_by_kid_and_foreign_signatures_fail() {
    let ours = issuer();
    // Same issuer, another key: the kid matches none of ours.
    let impostor = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
    let (token, _) = impostor.mint(&request(Binding::None), at(NOW)).unwrap();
    assert_eq!(ours.validator().validate(&token, at(NOW)), Err(TokenError::NoKeys));
    // With the kid removed every key is tried, and none verifies.
    let [header, payload, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
    assert!(!header.is_empty());
    let no_kid = format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#));
    assert!(matches!(ours.validator().validate(&no_kid, at(NOW)), Err(TokenError::Signature(_))));
    // A validator holding both keys accepts either.
    let both = Validator::new(
        vec![DEFAULT_ISSUER.into()],
        vec![DEFAULT_ISSUER.into()],
        vec![ours.public_key().clone(), impostor.public_key().clone()],
    );
    assert!(both.validate(&token, at(NOW)).unwrap().is_some());
}

#[test]
fn legacy_tokens_validate_without_expiry_and_need_their_claims() {
    let issuer = issuer();
    let (token, claims) = issuer.mint_legacy("ns", &ObjectRef::new("sa", "sa-uid"), "sa-token-abc").unwrap();
    let valid = issuer.validator().validate(&token, at(NOW + 10 * 365 * 86400)).unwrap().unwrap();
    assert_eq!(valid.user.name, "system:serviceaccount:ns:sa");
    assert!(valid.user.extra.is_empty());
    assert_eq!(valid.audiences, [DEFAULT_ISSUER]);
    assert_eq!(valid.bound.legacy_secret.as_deref(), Some("sa-token-abc"));
    assert_eq!(valid.claims, TokenClaims::Legacy(claims));

    assert_eq!(
        validate_legacy(&LegacyClaims { secret_name: String::new(), ..legacy_claims() }),
        Err(TokenError::MissingClaim("secretName"))
    );
    assert_eq!(
        validate_legacy(&LegacyClaims { sub: "system:serviceaccount:ns:other".into(), ..legacy_claims() }),
        Err(TokenError::InvalidSubject)
    );
    assert_eq!(TokenError::MissingClaim("sub").to_string(), "sub claim is missing");
}

fn legacy_claims() -> LegacyClaims {
    LegacyClaims {
        iss: LEGACY_ISSUER.into(),
        namespace: "ns".into(),
        secret_name: "s".into(),
        service_account_name: "sa".into(),
        service_account_uid: "u".into(),
        sub: "system:serviceaccount:ns:sa".into(),
    }
}
