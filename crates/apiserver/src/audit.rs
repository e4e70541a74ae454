//! The audit log (`--audit-log-path`): one `audit.k8s.io/v1` Event per request, as JSON
//! lines, at upstream's `Metadata` level: who, what, where and the outcome, never request
//! or response bodies (so no Secret values or tokens reach it).

use crate::auth::User;
use crate::request_info::RequestInfo;
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::mpsc;

/// How many events may wait for the writer before new ones are dropped (and counted).
const QUEUE: usize = 4096;

/// A handle that records audit events; writing happens on a background thread.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Value>,
}

/// What the audit event says about one request.
pub struct Record<'a> {
    pub user: &'a User,
    pub info: &'a RequestInfo,
    pub method: &'a str,
    pub uri: &'a str,
    pub source: Option<SocketAddr>,
    pub user_agent: Option<&'a str>,
    pub code: u16,
    pub received: jiff::Timestamp,
}

fn micro(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl AuditLog {
    /// Open (append to) the log file and start its writer.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, mut rx) = mpsc::channel::<Value>(QUEUE);
        std::thread::Builder::new().name("audit-log".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            while let Some(event) = rx.blocking_recv() {
                let _ = serde_json::to_writer(&mut out, &event);
                let _ = out.write_all(b"\n");
                // Flush when the queue is drained, so the file is current between bursts.
                if rx.is_empty() {
                    let _ = out.flush();
                }
            }
        })?;
        Ok(AuditLog { tx })
    }

    pub fn record(&self, r: &Record<'_>) {
        let _ = self.tx.try_send(event(r));
    }
}

/// The audit Event for a finished request.
pub fn event(r: &Record<'_>) -> Value {
    let mut ev = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": uuid::Uuid::new_v4().to_string(),
        "stage": "ResponseComplete",
        "requestURI": r.uri,
        "verb": if r.info.is_resource { r.info.verb.clone() } else { r.method.to_lowercase() },
        "user": {"username": r.user.name, "groups": r.user.groups},
        "sourceIPs": r.source.map(|s| vec![s.ip().to_string()]).unwrap_or_default(),
        "responseStatus": {"metadata": {}, "code": r.code},
        "requestReceivedTimestamp": micro(r.received),
        "stageTimestamp": micro(jiff::Timestamp::now()),
    });
    if let Some(ua) = r.user_agent {
        ev["userAgent"] = json!(ua);
    }
    if r.info.is_resource {
        let mut obj = json!({"resource": r.info.resource, "apiVersion": r.info.version});
        for (key, value) in [
            ("namespace", &r.info.namespace),
            ("name", &r.info.name),
            ("apiGroup", &r.info.group),
            ("subresource", &r.info.subresource),
        ] {
            if !value.is_empty() {
                obj[key] = json!(value);
            }
        }
        ev["objectRef"] = obj;
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn events_carry_who_what_and_outcome_but_no_body() {
        let user = crate::auth::from_certificate("admin".into(), vec!["system:masters".into()]);
        let info = RequestInfo::parse(&Method::POST, "/api/v1/namespaces/default/secrets", false);
        let ev = event(&Record {
            user: &user,
            info: &info,
            method: "POST",
            uri: "/api/v1/namespaces/default/secrets?fieldManager=kubectl-create",
            source: Some("127.0.0.1:5000".parse().unwrap()),
            user_agent: Some("kubectl/v1.33.1"),
            code: 201,
            received: jiff::Timestamp::now(),
        });
        assert_eq!(ev["verb"], "create");
        assert_eq!(ev["user"]["username"], "admin");
        assert_eq!(ev["objectRef"]["resource"], "secrets");
        assert_eq!(ev["objectRef"]["namespace"], "default");
        assert_eq!(ev["responseStatus"]["code"], 201);
        assert_eq!(ev["sourceIPs"][0], "127.0.0.1");
        assert!(ev.get("requestObject").is_none() && ev.get("responseObject").is_none());
    }
}
