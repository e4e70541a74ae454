//! The JWT payloads of service account tokens, field for field as kube-apiserver writes
//! them (keys in the alphabetical order its JSON encoder produces).

use serde::{Deserialize, Deserializer, Serialize};

/// A reference to a bound object (`{"name": ..., "uid": ...}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl ObjectRef {
    pub fn new(name: impl Into<String>, uid: impl Into<String>) -> Self {
        ObjectRef { name: name.into(), uid: uid.into() }
    }
}

/// The private `kubernetes.io` claim of a bound token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The node the token is bound to, or for a pod-bound token the pod's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    /// After this time (Unix seconds) the token is stale: it is still valid, but a client
    /// using it has not refreshed its token as it should.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "numeric_date")]
    pub warnafter: Option<i64>,
}

/// The payload of a bound token (TokenRequest API, projected volumes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundClaims {
    #[serde(default, deserialize_with = "audience")]
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io", default)]
    pub kubernetes: KubernetesClaims,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub sub: String,
}

/// The payload of a legacy token stored in a `kubernetes.io/service-account-token` Secret:
/// no audience and no expiry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyClaims {
    #[serde(default)]
    pub iss: String,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default)]
    pub namespace: String,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default)]
    pub secret_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.name", default)]
    pub service_account_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid", default)]
    pub service_account_uid: String,
    #[serde(default)]
    pub sub: String,
}

/// `aud` is one string or a list of strings (RFC 7519 §4.1.3).
fn audience<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Audience>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Audience::One(aud)) => vec![aud],
        Some(Audience::Many(auds)) => auds,
    })
}

/// A NumericDate: seconds since the epoch, possibly fractional (truncated, as Go's JOSE
/// library does).
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(seconds) = number.as_i64() {
        return Ok(Some(seconds));
    }
    match number.as_f64() {
        Some(seconds) if seconds.is_finite() && seconds.abs() < i64::MAX as f64 => Ok(Some(seconds as i64)),
        _ => Err(serde::de::Error::custom(format!("NumericDate {number} is out of range"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audience_and_dates_accept_upstream_shapes() {
        let claims: BoundClaims = serde_json::from_value(json!({
            "aud": "one", "exp": 10.9, "iat": 5, "iss": "i", "sub": "s",
            "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u"}, "warnafter": 7}
        }))
        .unwrap();
        assert_eq!((claims.aud, claims.exp, claims.iat, claims.nbf), (vec!["one".to_owned()], Some(10), Some(5), None));
        assert_eq!(claims.kubernetes.warnafter, Some(7));
        assert!(serde_json::from_value::<BoundClaims>(json!({"exp": 1e300})).is_err());
        assert!(serde_json::from_value::<BoundClaims>(json!({"aud": 3})).is_err());
    }

    #[test]
    fn bound_claims_serialize_in_upstream_key_order() {
        let claims = BoundClaims {
            aud: vec!["a".into()],
            exp: Some(2),
            iat: Some(1),
            iss: "i".into(),
            jti: "j".into(),
            kubernetes: KubernetesClaims {
                namespace: "ns".into(),
                pod: Some(ObjectRef::new("p", "pu")),
                serviceaccount: ObjectRef::new("sa", "su"),
                ..Default::default()
            },
            nbf: Some(1),
            sub: "s".into(),
        };
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            r#"{"aud":["a"],"exp":2,"iat":1,"iss":"i","jti":"j","kubernetes.io":{"namespace":"ns","pod":{"name":"p","uid":"pu"},"serviceaccount":{"name":"sa","uid":"su"}},"nbf":1,"sub":"s"}"#
        );
    }
}
