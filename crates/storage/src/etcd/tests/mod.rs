//! Tests of [`EtcdStore`] on a real etcd: the shared [`Store`](crate::Store) contract suite, then what only
//! this backend has (the compaction record, several stores on one etcd, connecting, a lost
//! etcd). Each test starts its own `/usr/bin/etcd` (Debian's `etcd-server`) on free loopback
//! ports with its data in a temporary directory, and kills it by PID when done.

mod compaction;
mod connect;
mod shared;
mod watches;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use tempfile::TempDir;

use super::EtcdStore;
use crate::contract_tests::{Load, Subject, contract_suite};

contract_suite!(crate::etcd::tests::contract_subject);

/// A fresh etcd and a store on it for the contract suite. A fresh etcd is at revision 1 (its
/// creation), so the first write is revision 2. Every etcd write is a round trip and a sync,
/// so the concurrency cases push it less than the embedded store.
async fn contract_subject() -> Subject {
    let (server, store) = etcd_store().await;
    let load = Load { writers: 8, creates_each: 50, watched_pairs_each: 30, increments_each: 15 };
    Subject::new(Arc::new(store), 2, load, server)
}

const ETCD_BINARY: &str = "/usr/bin/etcd";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// One etcd server, killed (by its PID) and its data removed when dropped.
struct EtcdServer {
    child: Child,
    endpoint: String,
    dir: TempDir,
}

impl EtcdServer {
    /// Starts etcd and waits until it serves reads. Port races with other tests starting
    /// servers at the same time are retried.
    async fn start() -> EtcdServer {
        assert!(
            Path::new(ETCD_BINARY).exists(),
            "{ETCD_BINARY} is missing: the etcd backend's tests need a real etcd; \
             install it with `apt-get install -y etcd-server`"
        );
        for _ in 0..3 {
            if let Some(server) = Self::try_start().await {
                return server;
            }
        }
        panic!("etcd did not start in 3 attempts");
    }

    async fn try_start() -> Option<EtcdServer> {
        // Memory-backed when possible: etcd syncs every write, which tmpfs makes cheap.
        let dir = tempfile::Builder::new()
            .prefix("krust-etcd-")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("temp dir");
        let [client_port, peer_port] = free_ports();
        let endpoint = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("log file");
        let child = Command::new(ETCD_BINARY)
            .arg("--name=test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--initial-cluster-state=new")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        let mut server = EtcdServer { child, endpoint, dir };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait().expect("etcd status") {
                let log = server.log();
                assert!(log.contains("address already in use"), "etcd exited ({status}):\n{log}");
                return None;
            }
            if TcpStream::connect(&server.endpoint[7..]).is_ok() && server.try_connect("").await.is_some() {
                return Some(server);
            }
            assert!(Instant::now() < deadline, "etcd did not answer within {STARTUP_TIMEOUT:?}:\n{}", server.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn try_connect(&self, prefix: &str) -> Option<EtcdStore> {
        EtcdStore::connect(std::slice::from_ref(&self.endpoint), prefix).await.ok()
    }

    /// A store on this etcd with its keys under `prefix`.
    async fn store_with_prefix(&self, prefix: &str) -> EtcdStore {
        EtcdStore::connect(std::slice::from_ref(&self.endpoint), prefix).await.expect("connect to etcd")
    }

    async fn store(&self) -> EtcdStore {
        self.store_with_prefix("").await
    }

    /// A plain etcd client, to look at etcd without the store in between.
    async fn raw_client(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.endpoint.as_str()], None).await.expect("raw etcd client")
    }

    fn log(&self) -> String {
        let mut log = String::new();
        if let Ok(mut file) = std::fs::File::open(self.dir.path().join("etcd.log")) {
            let _ = file.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Child::kill signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct free loopback ports (held together while chosen, so they differ).
fn free_ports() -> [u16; 2] {
    let listeners = [0, 1].map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"));
    listeners.map(|listener| listener.local_addr().expect("local address").port())
}

/// A fresh etcd and a store on it.
async fn etcd_store() -> (EtcdServer, EtcdStore) {
    let server = EtcdServer::start().await;
    let store = server.store().await;
    (server, store)
}
