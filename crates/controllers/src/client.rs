//! The controller manager's own identity: a client certificate from the cluster CA, used
//! like any other API client's.

use crate::Error;

/// The user the API server knows the controller manager as.
pub const USER: &str = "system:kube-controller-manager";
/// The field manager of the controllers' writes, as upstream's user agent makes it.
pub const FIELD_MANAGER: &str = "kube-controller-manager";

/// A client for the API server at `server_url` (`https://host:port`), authenticated as
/// [`USER`] with a certificate freshly issued by `pki`'s CA, trusting that CA.
pub async fn client(pki: &pki::Pki, server_url: &str) -> Result<kube::Client, Error> {
    let (cert_pem, key_pem) = pki.issue_client_cert(USER, &[])?;
    let yaml = pki::kubeconfig::Kubeconfig::new(server_url, pki.ca_pem(), &cert_pem, &key_pem, USER).to_yaml()?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}
