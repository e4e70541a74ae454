//! Durability under `kill -9`: this test binary runs itself as a child that writes keys and
//! prints each one once its write is acknowledged; the parent SIGKILLs it mid-stream,
//! reopens the database and checks that every acknowledged key is there.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::contract_tests::{get, value};
use crate::sqlite::SqliteStore;
use crate::{RangeRequest, Store};

/// Tells the child which database to write; its absence means "not the child".
const CHILD_DB_VAR: &str = "KRUST_STORAGE_CRASH_CHILD_DB";
/// Acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 600;

/// The child: writes from 32 tasks until killed, printing `ack <key> <revision>` for each
/// acknowledged write. Ignored in normal runs; the parent runs it with `--ignored`.
#[test]
#[ignore = "run as a child process by acknowledged_writes_survive_sigkill"]
fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD_DB_VAR) else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(path.as_ref()).unwrap());
        let writers: Vec<_> = (0..32)
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0.. {
                        let key = format!("/crash/{task:02}/{i:06}");
                        let revision = store.create(&key, value(&key)).await.unwrap();
                        println!("ack {key} {revision}");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "sqlite::tests::crash::crash_child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_VAR, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let mut acked = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < ACKS_BEFORE_KILL {
        assert!(Instant::now() < deadline, "the child acknowledged only {} writes", acked.len());
        let line = lines.next().expect("the child is still writing").unwrap();
        if let Some((key, revision)) = parse_ack(&line) {
            acked.insert(key, revision);
        }
    }
    // Child::kill sends SIGKILL to this child's PID: no destructor, no clean shutdown.
    child.kill().unwrap();
    child.wait().unwrap();
    // Acknowledgements printed before the kill are still in the pipe.
    for line in lines {
        if let Some((key, revision)) = parse_ack(&line.unwrap()) {
            acked.insert(key, revision);
        }
    }

    let check = rusqlite::Connection::open(&path).unwrap();
    let integrity: String = check.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    drop(check);

    let store = SqliteStore::open(&path).unwrap();
    for (key, revision) in &acked {
        let kv = get(&store, key).await.unwrap_or_else(|| panic!("acknowledged key {key} was lost"));
        assert_eq!((kv.value, kv.mod_revision), (value(key), *revision));
    }
    // Every write that did commit is whole, and the counter continues after the last one.
    let all = store.range(RangeRequest::prefix("/crash/")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    assert_eq!(all.kvs.len() as i64, current, "revisions stay contiguous: one key per revision");
    assert!(all.kvs.iter().all(|kv| kv.value == value(&kv.key)));
    assert_eq!(store.create("/after", value("x")).await.unwrap(), current + 1);
}

fn parse_ack(line: &str) -> Option<(String, i64)> {
    let mut words = line.strip_prefix("ack ")?.split(' ');
    Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
}
