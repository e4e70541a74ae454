//! Writes: each one etcd `Txn` whose comparison is the store's precondition, so the check
//! and the write are one atomic step on the etcd leader. A failed comparison reads the key
//! in the same `Txn` to say why (gone, or changed: the current value for the conflict).

use bytes::Bytes;
use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse, TxnResponse};

use super::{EtcdStore, errors, header_revision};
use crate::{Error, Result, Revision};

/// Put `key` if it has never been created or was deleted since (`create_revision` is 0).
pub(super) async fn create(store: &EtcdStore, key: &str, value: Bytes) -> Result<Revision> {
    let etcd_key = store.keys.etcd_key(key);
    let txn = Txn::new()
        .when([Compare::create_revision(etcd_key.as_str(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(etcd_key, value.to_vec(), None)]);
    let response = store.kv().txn(txn).await.map_err(errors::backend)?;
    if response.succeeded() { header_revision(response.header()) } else { Err(Error::AlreadyExists(key.to_owned())) }
}

/// Put `key` if it exists and was last written at `expected`.
pub(super) async fn update(store: &EtcdStore, key: &str, expected: Revision, value: Bytes) -> Result<Revision> {
    let etcd_key = store.keys.etcd_key(key);
    let put = TxnOp::put(etcd_key.as_str(), value.to_vec(), None);
    swap(store, key, expected, put).await
}

/// Delete `key` if it exists and (unless `expected` is 0) was last written at `expected`.
pub(super) async fn delete(store: &EtcdStore, key: &str, expected: Revision) -> Result<Revision> {
    let etcd_key = store.keys.etcd_key(key);
    let delete = TxnOp::delete(etcd_key.as_str(), None);
    if expected != 0 {
        return swap(store, key, expected, delete).await;
    }
    let txn = Txn::new().when([exists(&etcd_key)]).and_then([delete]);
    let response = store.kv().txn(txn).await.map_err(errors::backend)?;
    if response.succeeded() { header_revision(response.header()) } else { Err(Error::NotFound(key.to_owned())) }
}

/// Runs `op` on `key` if the key exists at `expected`; otherwise reads it to tell a missing key
/// from a conflict. The existence check matters for `expected = 0`: etcd compares a missing
/// key's `mod_revision` as 0, which would let an update create the key.
async fn swap(store: &EtcdStore, key: &str, expected: Revision, op: TxnOp) -> Result<Revision> {
    let etcd_key = store.keys.etcd_key(key);
    let txn = Txn::new()
        .when([exists(&etcd_key), Compare::mod_revision(etcd_key.as_str(), CompareOp::Equal, expected)])
        .and_then([op])
        .or_else([TxnOp::get(etcd_key, None)]);
    let response = store.kv().txn(txn).await.map_err(errors::backend)?;
    if response.succeeded() {
        return header_revision(response.header());
    }
    match current_value(store, &response)? {
        Some(current) => Err(Error::Conflict { key: key.to_owned(), expected, current: Box::new(current) }),
        None => Err(Error::NotFound(key.to_owned())),
    }
}

/// The key exists now: a live key has a non-zero `create_revision`.
fn exists(etcd_key: &str) -> Compare {
    Compare::create_revision(etcd_key, CompareOp::Greater, 0)
}

/// The key read by a failed [`swap`]'s `else` branch, if it exists.
fn current_value(store: &EtcdStore, response: &TxnResponse) -> Result<Option<crate::KeyValue>> {
    match response.op_responses().first() {
        Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| store.keys.key_value(kv)).transpose(),
        other => Err(Error::Backend(format!("etcd txn: expected the key's read, got {other:?}"))),
    }
}
