//! Property tests: random and malformed bearer tokens never panic any authenticator and
//! never authenticate. Seeded, so a failure reproduces.

use std::collections::BTreeMap;

use authn::TokenFile;
use authn::bootstrap::BootstrapToken;
use authn::serviceaccount::{Binding, DEFAULT_ISSUER, Issuer, ObjectRef, SigningKey, TokenError, TokenRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NOW: i64 = 1_750_000_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

/// Everything a bearer token is tried against, and the one valid token of each kind.
struct Authenticators {
    issuer: Issuer,
    token_file: TokenFile,
    bootstrap_secret: Secret,
    valid_jwt: String,
    valid_legacy_jwt: String,
}

impl Authenticators {
    fn new() -> Self {
        let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
        let (valid_jwt, _) = issuer.mint(&request(), now()).unwrap();
        let (valid_legacy_jwt, _) = issuer.mint_legacy("ns", &ObjectRef::new("sa", "sa-uid"), "sa-token").unwrap();
        let data =
            [("token-id", "abcdef"), ("token-secret", "0123456789abcdef"), ("usage-bootstrap-authentication", "true")]
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>();
        let bootstrap_secret = Secret {
            metadata: ObjectMeta {
                name: Some("bootstrap-token-abcdef".into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            type_: Some("bootstrap.kubernetes.io/token".into()),
            data: Some(data),
            ..Default::default()
        };
        let token_file = TokenFile::parse("s3cr3t-token,alice,1\n").unwrap();
        Authenticators { issuer, token_file, bootstrap_secret, valid_jwt, valid_legacy_jwt }
    }

    /// Asserts that no authenticator accepts `token` (and that none panics).
    fn assert_rejected(&self, token: &str) {
        assert_eq!(self.token_file.authenticate(token), None, "token file accepted {token:?}");
        let outcome = self.issuer.validator().validate(token, now());
        assert!(!matches!(outcome, Ok(Some(_))), "service account validator accepted {token:?}");
        if let Some(bootstrap) = BootstrapToken::parse(token) {
            let mut secret = self.bootstrap_secret.clone();
            secret.metadata.name = Some(bootstrap.secret_name());
            assert!(bootstrap.authenticate(&secret, now()).is_err(), "bootstrap accepted {token:?}");
        }
    }
}

fn request() -> TokenRequest {
    TokenRequest {
        namespace: "ns".into(),
        service_account: ObjectRef::new("sa", "sa-uid"),
        audiences: vec![],
        expiration_seconds: 3600,
        binding: Binding::Pod { pod: ObjectRef::new("web", "pod-uid"), node: None },
        warn_after_seconds: None,
    }
}

fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn the_valid_tokens_are_accepted() {
    let auth = Authenticators::new();
    assert!(auth.issuer.validator().validate(&auth.valid_jwt, now()).unwrap().is_some());
    assert!(auth.issuer.validator().validate(&auth.valid_legacy_jwt, now()).unwrap().is_some());
    assert!(auth.token_file.authenticate("s3cr3t-token").is_some());
    let bootstrap = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
    assert!(bootstrap.authenticate(&auth.bootstrap_secret, now()).is_ok());
}

#[test]
fn random_bytes_and_random_token_shaped_text_are_rejected() {
    let auth = Authenticators::new();
    let mut rng = StdRng::seed_from_u64(0x006b_7275_7374);
    let alphabet = b"abcdef0123456789.-_=+/ABCXYZ{}\":,";
    for round in 0..3000 {
        let len = rng.random_range(0..160);
        let token = if round % 2 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
        };
        auth.assert_rejected(&token);
    }
    // Bootstrap-shaped tokens with random secrets.
    for _ in 0..500 {
        let secret: String = (0..16).map(|_| b"0123456789abcdef"[rng.random_range(0..16)] as char).collect();
        if secret != "0123456789abcdef" {
            auth.assert_rejected(&format!("abcdef.{secret}"));
        }
    }
}

#[test]
fn truncated_and_extended_jwts_are_rejected() {
    let auth = Authenticators::new();
    for jwt in [&auth.valid_jwt, &auth.valid_legacy_jwt] {
        for end in 0..jwt.len() {
            auth.assert_rejected(&jwt[..end]);
        }
        for suffix in [".", "A", ".x", "=", " "] {
            auth.assert_rejected(&format!("{jwt}{suffix}"));
        }
    }
}

#[test]
fn random_character_changes_anywhere_are_rejected() {
    let auth = Authenticators::new();
    let mut rng = StdRng::seed_from_u64(7);
    let base64_chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for jwt in [&auth.valid_jwt, &auth.valid_legacy_jwt] {
        for _ in 0..400 {
            let mut bytes = jwt.clone().into_bytes();
            let at = rng.random_range(0..bytes.len());
            if bytes[at] == b'.' {
                continue;
            }
            let replacement = base64_chars[rng.random_range(0..base64_chars.len())];
            if replacement == bytes[at] {
                continue;
            }
            bytes[at] = replacement;
            auth.assert_rejected(&String::from_utf8(bytes).unwrap());
        }
    }
}

#[test]
fn wrong_algorithms_including_none_are_rejected() {
    let auth = Authenticators::new();
    let (_, payload, signature) = parts(&auth.valid_jwt);
    let kid = auth.issuer.public_key().key_id();
    for alg in ["none", "None", "HS256", "ES384", "RS256", "PS256", "EdDSA", ""] {
        let header = b64(&format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#));
        auth.assert_rejected(&format!("{header}.{payload}."));
        auth.assert_rejected(&format!("{header}.{payload}.{signature}"));
    }
    // The classic confusion: HMAC keyed with the public key.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    let hmac_key = jsonwebtoken::EncodingKey::from_secret(auth.issuer.public_key().pem().as_bytes());
    let forged = jsonwebtoken::encode(&header, &claims, &hmac_key).unwrap();
    let outcome = auth.issuer.validator().validate(&forged, now());
    assert!(matches!(outcome, Err(TokenError::Signature(_))), "{outcome:?}");
    auth.assert_rejected(&forged);
}

#[test]
fn tampered_payloads_keep_failing_the_signature() {
    let auth = Authenticators::new();
    let (header, payload, signature) = parts(&auth.valid_jwt);
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    let tamperings: [(&str, serde_json::Value); 5] = [
        ("/sub", "system:serviceaccount:kube-system:admin".into()),
        ("/kubernetes.io/namespace", "kube-system".into()),
        ("/kubernetes.io/serviceaccount/uid", "other".into()),
        ("/exp", (NOW + 10 * 365 * 86400).into()),
        ("/aud", serde_json::json!(["anything"])),
    ];
    for (pointer, value) in tamperings {
        let mut changed = claims.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        let changed = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap());
        let token = format!("{header}.{changed}.{signature}");
        let outcome = auth.issuer.validator().validate(&token, now());
        assert!(matches!(outcome, Err(TokenError::Signature(_))), "{pointer}: {outcome:?}");
        auth.assert_rejected(&token);
    }
    // Signing the tampered token with a key of our own making does not help either.
    let forger = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
    let (forged, _) = forger.mint(&request(), now()).unwrap();
    auth.assert_rejected(&forged);
}

#[test]
fn expired_and_not_yet_valid_tokens_are_rejected() {
    let auth = Authenticators::new();
    let validator = auth.issuer.validator();
    let (expired, _) = auth.issuer.mint(&request(), Timestamp::from_second(NOW - 7200).unwrap()).unwrap();
    assert_eq!(validator.validate(&expired, now()), Err(TokenError::Expired));
    let (future, _) = auth.issuer.mint(&request(), Timestamp::from_second(NOW + 7200).unwrap()).unwrap();
    assert_eq!(validator.validate(&future, now()), Err(TokenError::NotValidYet));
    auth.assert_rejected(&expired);
    auth.assert_rejected(&future);
}
