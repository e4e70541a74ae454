//! Connecting: a reconnected store sees what was written before; no endpoint or no etcd fails.

use super::etcd_store;
use crate::contract_tests::{get, value};
use crate::{Error, Store};

#[tokio::test]
async fn a_reconnected_store_sees_everything_written_before() {
    let (etcd, store) = etcd_store().await;
    let a = store.create("/a", value("1")).await.unwrap();
    let a = store.update("/a", a, value("2")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    drop(store);

    let store = etcd.store().await;
    assert_eq!(store.current_revision().await.unwrap(), current);
    let kv = get(&store, "/a").await.unwrap();
    assert_eq!((kv.value, kv.mod_revision), (value("2"), a));
    assert_eq!(store.create("/b", value("3")).await.unwrap(), current + 1);
}

#[tokio::test]
async fn connecting_fails_without_endpoints_or_etcd() {
    let none = super::EtcdStore::connect(&[], "").await;
    assert!(matches!(none, Err(Error::Backend(_))));
    // A loopback port with nothing behind it.
    let [port, _] = super::free_ports();
    let unreachable = super::EtcdStore::connect(&[format!("http://127.0.0.1:{port}")], "").await;
    assert!(matches!(unreachable, Err(Error::Backend(_))));
}
