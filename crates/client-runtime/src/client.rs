//! A component's own identity: a client certificate from the cluster CA, used like any
//! other API client's. The controller manager, the scheduler and every node build their
//! clients here, each as its own user.

use crate::Error;

/// A client for the API server at `server_url` (`https://host:port`), authenticated as
/// `user` in `groups` with a certificate freshly issued by `pki`'s CA, trusting that CA.
pub async fn component_client(
    pki: &pki::Pki,
    server_url: &str,
    user: &str,
    groups: &[&str],
) -> Result<kube::Client, Error> {
    let certificate = |source| Error::Certificate { user: user.to_owned(), source };
    let kubeconfig = |source| Error::Kubeconfig { user: user.to_owned(), source };
    let (cert_pem, key_pem) = pki.issue_client_cert(user, groups).map_err(certificate)?;
    let yaml = pki::kubeconfig::Kubeconfig::new(server_url, pki.ca_pem(), &cert_pem, &key_pem, user)
        .to_yaml()
        .map_err(certificate)?;
    let config = kube::config::Kubeconfig::from_yaml(&yaml).map_err(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await.map_err(kubeconfig)?;
    kube::Client::try_from(config).map_err(|source| Error::Client { user: user.to_owned(), source })
}
