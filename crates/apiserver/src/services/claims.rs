//! Allocations as keys in the store, so that API servers sharing a store never hand out the
//! same cluster IP or node port: taking one is creating its key, which only one server's
//! create can win (upstream keeps its allocation bitmaps in etcd behind compare-and-swap for
//! the same reason). Each server's in-memory sets are only a cache of what is taken.

use bytes::Bytes;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use storage::{RangeRequest, Store};

const IPS: &str = "/registry/ranges/serviceips/";
const PORTS: &str = "/registry/ranges/servicenodeports/";

/// One cluster IP or node port taken for a Service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    Ip(Ipv4Addr),
    Port(u16),
}

impl Claim {
    fn key(self) -> String {
        match self {
            Claim::Ip(ip) => format!("{IPS}{ip}"),
            Claim::Port(port) => format!("{PORTS}{port}"),
        }
    }
}

/// Why claims could not all be taken.
pub enum ClaimError {
    /// Another server holds this one.
    Taken(Claim),
    Store(storage::Error),
}

/// The claims kept in a store.
pub struct Ledger {
    store: Arc<dyn Store>,
}

impl Ledger {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Ledger { store }
    }

    /// Take every claim in `claims` for `owner` (`namespace/name`), or none of them.
    pub async fn take(&self, claims: &[Claim], owner: &str) -> Result<(), ClaimError> {
        for (i, claim) in claims.iter().enumerate() {
            match self.store.create(&claim.key(), Bytes::copy_from_slice(owner.as_bytes())).await {
                Ok(_) => {}
                Err(error) => {
                    self.give_back(&claims[..i]).await;
                    return Err(match error {
                        storage::Error::AlreadyExists(_) => ClaimError::Taken(*claim),
                        other => ClaimError::Store(other),
                    });
                }
            }
        }
        Ok(())
    }

    /// Release `claims`; one already gone is fine.
    pub async fn give_back(&self, claims: &[Claim]) {
        for claim in claims {
            match self.store.delete(&claim.key(), 0).await {
                Ok(_) | Err(storage::Error::NotFound(_)) => {}
                Err(error) => tracing::warn!(%error, ?claim, "releasing a service allocation failed"),
            }
        }
    }

    /// Every claim in the store, whichever server took it.
    pub async fn all(&self) -> storage::Result<BTreeSet<Claim>> {
        let mut all = BTreeSet::new();
        for prefix in [IPS, PORTS] {
            let kvs = self.store.range(RangeRequest::prefix(prefix)).await?.kvs;
            all.extend(kvs.iter().filter_map(|kv| parse(&kv.key)));
        }
        Ok(all)
    }

    /// Make sure every claim of `held` (what stored Services hold) has its key: Services
    /// stored before claims were kept get theirs. Returns every claim in the store.
    pub async fn reconcile(&self, held: &[(Claim, String)]) -> storage::Result<BTreeSet<Claim>> {
        let mut all = self.all().await?;
        for (claim, owner) in held {
            if all.insert(*claim) {
                match self.store.create(&claim.key(), Bytes::copy_from_slice(owner.as_bytes())).await {
                    Ok(_) | Err(storage::Error::AlreadyExists(_)) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(all)
    }
}

fn parse(key: &str) -> Option<Claim> {
    if let Some(ip) = key.strip_prefix(IPS) {
        return ip.parse().ok().map(Claim::Ip);
    }
    key.strip_prefix(PORTS)?.parse().ok().map(Claim::Port)
}
