//! Reads: ranges at the current or a past revision, and the current revision itself.

use etcd_client::{GetOptions, KvClient};

use super::compact::COMPACT_REV_KEY;
use super::{EtcdStore, errors, header_revision};
use crate::{Error, RangeRequest, RangeResult, Result, Revision};

/// One etcd range: `[prefix + start, prefix + end)` at `req.revision`, at most `req.limit` keys.
pub(super) async fn range(store: &EtcdStore, req: RangeRequest) -> Result<RangeResult> {
    let mut options = GetOptions::new();
    if !req.end.is_empty() {
        options = options.with_range(store.keys.etcd_key(&req.end));
    }
    if req.revision != 0 {
        options = options.with_revision(req.revision);
    }
    if req.limit != 0 {
        let limit = i64::try_from(req.limit).map_err(|_| Error::Backend(format!("limit {} too large", req.limit)))?;
        options = options.with_limit(limit);
    }
    let mut kv = store.kv();
    let response = match kv.get(store.keys.etcd_key(&req.start), Some(options)).await {
        Ok(response) => response,
        Err(e) => return Err(errors::at_revision(&mut kv, req.revision, e).await),
    };
    // etcd's header always carries the current revision; a read at a past one was served there.
    let revision = if req.revision == 0 { header_revision(response.header())? } else { req.revision };
    let kvs = response.kvs().iter().map(|kv| store.keys.key_value(kv)).collect::<Result<_>>()?;
    Ok(RangeResult { kvs, more: response.more(), revision })
}

/// The current revision: the header of the cheapest linearizable read there is.
pub(super) async fn current_revision(kv: &mut KvClient) -> Result<Revision> {
    let response = kv.get(COMPACT_REV_KEY, Some(GetOptions::new().with_count_only())).await.map_err(errors::backend)?;
    header_revision(response.header())
}
