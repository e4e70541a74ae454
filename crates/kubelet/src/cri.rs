//! The CRI v1 client: containerd's `RuntimeService` and `ImageService` over its unix
//! socket (gRPC through tonic). Callers use the generated clients directly and name the
//! call in their errors ([`crate::error::Error::cri`]).

use crate::error::{Error, Result};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{VersionRequest, VersionResponse};
use std::path::Path;
use tonic::transport::{Channel, Endpoint, Uri};

/// The CRI API version Krust speaks.
pub const API_VERSION: &str = "v1";

/// A connection to the container runtime.
#[derive(Clone)]
pub struct Cri {
    channel: Channel,
}

impl Cri {
    /// Connect to the CRI socket at `path`.
    pub async fn connect(path: &Path) -> Result<Cri> {
        let socket = path.to_path_buf();
        let channel = Endpoint::from_static("http://[::]:50051")
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
            }))
            .await
            .map_err(|source| Error::Connect { path: path.to_path_buf(), source })?;
        Ok(Cri { channel })
    }

    /// The runtime service (sandboxes, containers, exec).
    pub fn runtime(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    /// The image service (pull, status, list).
    pub fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    /// The runtime's name and version (`containerd`, `1.6.20`).
    pub async fn version(&self) -> Result<VersionResponse> {
        let request = VersionRequest { version: API_VERSION.to_owned() };
        Ok(self.runtime().version(request).await.map_err(Error::cri("Version"))?.into_inner())
    }
}
