//! The tokens controller (upstream's `serviceaccount-token-controller`) for legacy token
//! Secrets: a Secret of type `kubernetes.io/service-account-token` naming an existing
//! ServiceAccount gets a token signed with the API server's key, the cluster CA and its
//! namespace; one whose ServiceAccount does not exist is deleted, and so are the tokens of
//! a ServiceAccount that is deleted. Since 1.24 no Secret is created for a ServiceAccount.

use crate::{Error, FIELD_MANAGER};
use authn::serviceaccount::{DEFAULT_ISSUER, Issuer, MintError, ObjectRef as TokenSubject, SigningKey};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::path::Path;
use std::sync::Arc;

pub const SECRET_TYPE: &str = "kubernetes.io/service-account-token";
pub const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";
pub const SERVICE_ACCOUNT_UID_KEY: &str = "kubernetes.io/service-account.uid";
/// The data keys the controller fills.
pub const TOKEN_KEY: &str = "token";
pub const ROOT_CA_KEY: &str = "ca.crt";
pub const NAMESPACE_KEY: &str = "namespace";
/// upstream's `--concurrent-serviceaccount-token-syncs` is 5.
const WORKERS: usize = 2;

/// What changed: a ServiceAccount (its tokens go with it) or a token Secret. Both carry
/// the uids they were seen with, so that a namesake created later is not mistaken for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    ServiceAccount { namespace: String, name: String, uid: String },
    Secret { namespace: String, name: String, uid: String, service_account: String, service_account_uid: String },
}

pub struct TokensController {
    client: Client,
    issuer: Issuer,
    root_ca: Vec<u8>,
    service_accounts: Store<ServiceAccount>,
    secrets: Store<Secret>,
}

/// Load the signing key from `pki_dir` (creating it on first start, as the API server
/// would) and keep every legacy token Secret filled. Runs until cancelled.
pub async fn run(client: Client, informers: Informers, root_ca_pem: &str, pki_dir: &Path) -> Result<(), Error> {
    let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::load_or_create(pki_dir)?);
    let tokens_only = watcher::Config::default().fields(&format!("type={SECRET_TYPE}"));
    let (service_accounts, secrets) = (informers.all::<ServiceAccount>(), informers.selected::<Secret>(tokens_only));
    let queue = WorkQueue::new();
    let controller = Arc::new(TokensController {
        client: client.clone(),
        issuer,
        root_ca: root_ca_pem.as_bytes().to_vec(),
        service_accounts: service_accounts.store(),
        secrets: secrets.store(),
    });
    service_accounts.queue_changes(&queue, |sa| Key::ServiceAccount {
        namespace: sa.namespace().unwrap_or_default(),
        name: sa.name_any(),
        uid: sa.uid().unwrap_or_default(),
    });
    secrets.queue_changes(&queue, secret_key);
    let synced = async { service_accounts.synced().await && secrets.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

fn secret_key(secret: &Secret) -> Key {
    let annotation = |key: &str| secret.annotations().get(key).cloned().unwrap_or_default();
    Key::Secret {
        namespace: secret.namespace().unwrap_or_default(),
        name: secret.name_any(),
        uid: secret.uid().unwrap_or_default(),
        service_account: annotation(SERVICE_ACCOUNT_NAME_KEY),
        service_account_uid: annotation(SERVICE_ACCOUNT_UID_KEY),
    }
}

impl Reconciler for TokensController {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = "serviceaccount-token";

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        match key {
            Key::ServiceAccount { namespace, name, uid } => self.sync_service_account(namespace, name, uid).await,
            Key::Secret { namespace, name, uid, service_account, service_account_uid } => {
                self.sync_secret(namespace, name, uid, service_account, service_account_uid).await
            }
        }
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl TokensController {
    /// A ServiceAccount that is gone takes its token Secrets with it.
    async fn sync_service_account(&self, namespace: &str, name: &str, uid: &str) -> Result<Action, Error> {
        if self.service_account(namespace, name, uid, false).await?.is_some() {
            return Ok(Action::Done);
        }
        let orphans: Vec<Arc<Secret>> = self
            .secrets
            .state()
            .into_iter()
            .filter(|s| s.namespace().as_deref() == Some(namespace) && is_token_for(s, name, uid))
            .collect();
        for secret in orphans {
            self.delete_secret(namespace, &secret.name_any(), &secret.uid().unwrap_or_default()).await?;
        }
        Ok(Action::Done)
    }

    async fn sync_secret(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        sa_name: &str,
        sa_uid: &str,
    ) -> Result<Action, Error> {
        let cached =
            self.secrets.get(&ObjectRef::new(name).within(namespace)).filter(|s| s.uid().as_deref() == Some(uid));
        let Some(cached) = cached else {
            if self.service_account(namespace, sa_name, sa_uid, false).await?.is_some() {
                self.remove_reference(namespace, sa_name, sa_uid, name).await?;
            }
            return Ok(Action::Done);
        };
        match self.service_account(namespace, sa_name, sa_uid, true).await? {
            None => self.delete_secret(namespace, name, uid).await?,
            Some(sa) => self.fill_if_needed(&sa, &cached).await?,
        }
        Ok(Action::Done)
    }

    /// The ServiceAccount `name` (with `uid` when one is given) from the cache, or when
    /// `fetch_on_miss`, from the API server (the cache may not have seen it yet).
    async fn service_account(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        fetch_on_miss: bool,
    ) -> Result<Option<ServiceAccount>, Error> {
        let matches = |sa: &ServiceAccount| uid.is_empty() || sa.uid().as_deref() == Some(uid);
        if let Some(sa) = self.service_accounts.get(&ObjectRef::new(name).within(namespace)).filter(|sa| matches(sa)) {
            return Ok(Some((*sa).clone()));
        }
        if !fetch_on_miss {
            return Ok(None);
        }
        let live = Api::<ServiceAccount>::namespaced(self.client.clone(), namespace).get_opt(name).await?;
        Ok(live.filter(matches))
    }

    /// Fill the Secret from a fresh read, unless the cache is behind (the newer version's
    /// event will come) or nothing is missing.
    async fn fill_if_needed(&self, sa: &ServiceAccount, cached: &Secret) -> Result<(), Error> {
        if !Needs::of(cached, &self.root_ca).any() {
            return Ok(());
        }
        let api = Api::<Secret>::namespaced(self.client.clone(), &cached.namespace().unwrap_or_default());
        let Some(mut live) = api.get_opt(&cached.name_any()).await? else { return Ok(()) };
        if live.resource_version() != cached.resource_version() || !fill(&mut live, sa, &self.issuer, &self.root_ca)? {
            return Ok(());
        }
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match api.replace(&cached.name_any(), &params, &live).await {
            Ok(_) => Ok(()),
            // Someone else changed or deleted it: the watch brings the news.
            Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete the Secret `name` if it is still the one with `uid`.
    async fn delete_secret(&self, namespace: &str, name: &str, uid: &str) -> Result<(), Error> {
        tracing::debug!(namespace, name, "deleting a service account token whose service account does not exist");
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
            ..Default::default()
        };
        match Api::<Secret>::namespaced(self.client.clone(), namespace).delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Drop a deleted Secret from its ServiceAccount's `secrets`.
    async fn remove_reference(&self, namespace: &str, sa_name: &str, sa_uid: &str, secret: &str) -> Result<(), Error> {
        let api = Api::<ServiceAccount>::namespaced(self.client.clone(), namespace);
        let Some(mut sa) = api.get_opt(sa_name).await? else { return Ok(()) };
        if !sa_uid.is_empty() && sa.uid().as_deref() != Some(sa_uid) {
            return Ok(());
        }
        let Some(refs) = sa.secrets.as_mut() else { return Ok(()) };
        let before = refs.len();
        refs.retain(|r| r.name.as_deref() != Some(secret));
        if refs.len() == before {
            return Ok(());
        }
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match api.replace(sa_name, &params, &sa).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// upstream's `IsServiceAccountToken`: a token Secret naming the ServiceAccount, and its
/// uid when the Secret records one.
fn is_token_for(secret: &Secret, sa_name: &str, sa_uid: &str) -> bool {
    let annotations = secret.annotations();
    let recorded_uid = annotations.get(SERVICE_ACCOUNT_UID_KEY).map(String::as_str).unwrap_or_default();
    secret.type_.as_deref() == Some(SECRET_TYPE)
        && annotations.get(SERVICE_ACCOUNT_NAME_KEY).map(String::as_str) == Some(sa_name)
        && (recorded_uid.is_empty() || recorded_uid == sa_uid)
}

/// What a token Secret lacks.
#[derive(Debug, PartialEq, Eq)]
struct Needs {
    ca: bool,
    namespace: bool,
    token: bool,
}

impl Needs {
    fn of(secret: &Secret, root_ca: &[u8]) -> Needs {
        let value =
            |key: &str| secret.data.as_ref().and_then(|d| d.get(key)).map(|v| v.0.as_slice()).unwrap_or_default();
        Needs {
            ca: !root_ca.is_empty() && value(ROOT_CA_KEY) != root_ca,
            namespace: value(NAMESPACE_KEY).is_empty(),
            token: value(TOKEN_KEY).is_empty(),
        }
    }

    fn any(&self) -> bool {
        self.ca || self.namespace || self.token
    }
}

/// Add what `secret` lacks: the CA, its namespace, a legacy token for `sa`; and record the
/// ServiceAccount's name and uid. Returns whether anything was missing. A token already
/// there is kept.
fn fill(secret: &mut Secret, sa: &ServiceAccount, issuer: &Issuer, root_ca: &[u8]) -> Result<bool, MintError> {
    let needs = Needs::of(secret, root_ca);
    if !needs.any() {
        return Ok(false);
    }
    let namespace = secret.namespace().unwrap_or_default();
    let token = if needs.token {
        let subject = TokenSubject::new(sa.name_any(), sa.uid().unwrap_or_default());
        Some(issuer.mint_legacy(&namespace, &subject, &secret.name_any())?.0)
    } else {
        None
    };
    let data = secret.data.get_or_insert_default();
    if needs.ca {
        data.insert(ROOT_CA_KEY.to_owned(), ByteString(root_ca.to_vec()));
    }
    if needs.namespace {
        data.insert(NAMESPACE_KEY.to_owned(), ByteString(namespace.into_bytes()));
    }
    if let Some(token) = token {
        data.insert(TOKEN_KEY.to_owned(), ByteString(token.into_bytes()));
    }
    let annotations = secret.annotations_mut();
    annotations.insert(SERVICE_ACCOUNT_NAME_KEY.to_owned(), sa.name_any());
    annotations.insert(SERVICE_ACCOUNT_UID_KEY.to_owned(), sa.uid().unwrap_or_default());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn service_account(name: &str, uid: &str) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("team".into()),
                uid: Some(uid.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn token_secret(annotations: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("builder-token".into()),
                namespace: Some("team".into()),
                uid: Some("secret-uid".into()),
                annotations: Some(annotations.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE.into()),
            ..Default::default()
        }
    }

    fn text(secret: &Secret, key: &str) -> String {
        String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
    }

    #[test]
    fn a_new_token_secret_gets_a_valid_token_ca_namespace_and_uid() {
        let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
        let mut secret = token_secret(&[(SERVICE_ACCOUNT_NAME_KEY, "builder")]);
        assert!(fill(&mut secret, &service_account("builder", "sa-uid"), &issuer, CA).unwrap());
        assert_eq!(text(&secret, ROOT_CA_KEY).as_bytes(), CA);
        assert_eq!(text(&secret, NAMESPACE_KEY), "team");
        assert_eq!(secret.annotations()[SERVICE_ACCOUNT_UID_KEY], "sa-uid");
        let token = issuer.validator().validate(&text(&secret, TOKEN_KEY), jiff::Timestamp::now()).unwrap().unwrap();
        assert_eq!(token.user.name, "system:serviceaccount:team:builder");
        assert_eq!(token.user.uid, "sa-uid");
        assert!(!Needs::of(&secret, CA).any());
    }

    #[test]
    fn a_filled_secret_is_left_alone_and_only_a_stale_ca_is_replaced() {
        let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
        let sa = service_account("builder", "sa-uid");
        let mut secret = token_secret(&[(SERVICE_ACCOUNT_NAME_KEY, "builder")]);
        fill(&mut secret, &sa, &issuer, CA).unwrap();
        let token = text(&secret, TOKEN_KEY);
        assert!(!fill(&mut secret, &sa, &issuer, CA).unwrap());
        assert_eq!(Needs::of(&secret, b"new CA"), Needs { ca: true, namespace: false, token: false });
        assert!(fill(&mut secret, &sa, &issuer, b"new CA").unwrap());
        assert_eq!(text(&secret, ROOT_CA_KEY), "new CA");
        assert_eq!(text(&secret, TOKEN_KEY), token, "an existing token is kept");
    }

    #[test]
    fn tokens_belong_to_the_named_service_account_and_its_recorded_uid() {
        let unclaimed = token_secret(&[(SERVICE_ACCOUNT_NAME_KEY, "builder")]);
        assert!(is_token_for(&unclaimed, "builder", "any-uid"));
        assert!(!is_token_for(&unclaimed, "other", "any-uid"));
        let claimed = token_secret(&[(SERVICE_ACCOUNT_NAME_KEY, "builder"), (SERVICE_ACCOUNT_UID_KEY, "old")]);
        assert!(is_token_for(&claimed, "builder", "old"));
        assert!(!is_token_for(&claimed, "builder", "new"), "a namesake's tokens are not its own");
        let mut opaque = unclaimed.clone();
        opaque.type_ = Some("Opaque".into());
        assert!(!is_token_for(&opaque, "builder", "any-uid"));
    }

    #[test]
    fn a_secret_is_keyed_by_its_uid_and_service_account() {
        let secret = token_secret(&[(SERVICE_ACCOUNT_NAME_KEY, "builder"), (SERVICE_ACCOUNT_UID_KEY, "sa-uid")]);
        let expected = Key::Secret {
            namespace: "team".into(),
            name: "builder-token".into(),
            uid: "secret-uid".into(),
            service_account: "builder".into(),
            service_account_uid: "sa-uid".into(),
        };
        assert_eq!(secret_key(&secret), expected);
        let mut no_annotations = secret.clone();
        no_annotations.metadata.annotations = Some(BTreeMap::new());
        let Key::Secret { service_account, .. } = secret_key(&no_annotations) else { unreachable!() };
        assert_eq!(service_account, "");
    }
}
