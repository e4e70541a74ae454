//! kubectl proxy's request filter: a request passes when its path and `Host` are accepted
//! and neither its path nor its method is rejected. It keeps web pages from other origins
//! (XSRF, DNS rebinding) and exec/attach away from a port anyone local can reach.

use regex::Regex;

/// Hosts accepted by default: loopback names only.
pub const DEFAULT_ACCEPT_HOSTS: &str = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$";
pub const DEFAULT_ACCEPT_PATHS: &str = "^.*";
/// Paths rejected by default, even when accepted: exec and attach into pods.
pub const DEFAULT_REJECT_PATHS: &str = "^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach";
/// Methods rejected by default: none (only the empty method matches).
pub const DEFAULT_REJECT_METHODS: &str = "^$";

/// The compiled filter; each list holds the comma-separated expressions of one flag.
#[derive(Debug, Clone)]
pub struct Filter {
    accept_paths: Vec<Regex>,
    reject_paths: Vec<Regex>,
    accept_hosts: Vec<Regex>,
    reject_methods: Vec<Regex>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new(DEFAULT_ACCEPT_PATHS, DEFAULT_REJECT_PATHS, DEFAULT_ACCEPT_HOSTS, DEFAULT_REJECT_METHODS)
            .expect("the default expressions compile")
    }
}

impl Filter {
    /// Compiles the four flag values; each is a comma-separated list of regular expressions
    /// matched anywhere in the subject (anchor them with `^`/`$`), and an empty value is an empty list.
    pub fn new(
        accept_paths: &str,
        reject_paths: &str,
        accept_hosts: &str,
        reject_methods: &str,
    ) -> Result<Filter, regex::Error> {
        Ok(Filter {
            accept_paths: regex_list(accept_paths)?,
            reject_paths: regex_list(reject_paths)?,
            accept_hosts: regex_list(accept_hosts)?,
            reject_methods: regex_list(reject_methods)?,
        })
    }

    /// Whether a request for `path` with `method` and the `Host` value `host` may pass.
    pub fn accepts(&self, method: &str, path: &str, host: &str) -> bool {
        let any = |list: &[Regex], s: &str| list.iter().any(|re| re.is_match(s));
        !any(&self.reject_paths, path)
            && !any(&self.reject_methods, method)
            && any(&self.accept_paths, path)
            && any(&self.accept_hosts, host_without_port(host))
    }
}

fn regex_list(flag: &str) -> Result<Vec<Regex>, regex::Error> {
    if flag.is_empty() {
        return Ok(Vec::new());
    }
    flag.split(',').map(Regex::new).collect()
}

/// The host of a `Host` value as Go's `net.SplitHostPort` splits it, or the whole value
/// when it has no port: so `[::1]:8001` gives `::1` but a bare `[::1]` stays bracketed,
/// which is what the default expressions expect.
fn host_without_port(value: &str) -> &str {
    let split = if let Some(rest) = value.strip_prefix('[') {
        rest.split_once("]:").map(|(host, _)| host).filter(|host| !host.contains(']'))
    } else {
        value.rsplit_once(':').map(|(host, _)| host).filter(|host| !host.contains(':'))
    };
    split.unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_are_loopback_names_with_or_without_port() {
        let f = Filter::default();
        for host in ["localhost", "localhost:8001", "127.0.0.1:8001", "127.0.0.1", "[::1]"] {
            assert!(f.accepts("GET", "/api/v1/pods", host), "{host}");
        }
        for host in ["evil.example", "evil.example:8001", "", "localhost.evil.example", "10.0.0.1:8001"] {
            assert!(!f.accepts("GET", "/api/v1/pods", host), "{host}");
        }
    }

    #[test]
    fn default_rejects_exec_and_attach_but_not_other_subresources_or_methods() {
        let f = Filter::default();
        assert!(!f.accepts("POST", "/api/v1/namespaces/default/pods/p/exec", "localhost"));
        assert!(!f.accepts("GET", "/api/v1/namespaces/default/pods/p/attach", "localhost"));
        assert!(f.accepts("GET", "/api/v1/namespaces/default/pods/p/log", "localhost"));
        assert!(f.accepts("DELETE", "/api/v1/namespaces/default/pods/p", "localhost"));
        assert!(f.accepts("GET", "", "localhost"));
    }

    #[test]
    fn custom_lists() {
        let f = Filter::new("^/api/", "", ".*", "POST,PUT").unwrap();
        assert!(f.accepts("GET", "/api/v1/namespaces/default/pods/p/exec", "anything"));
        assert!(!f.accepts("GET", "/apis/apps/v1", "anything"));
        assert!(!f.accepts("PUT", "/api/v1/pods", "anything"));
        assert!(Filter::new("(", "", "", "").is_err());
    }

    #[test]
    fn host_splitting_follows_go() {
        assert_eq!(host_without_port("[::1]:8001"), "::1");
        assert_eq!(host_without_port("[::1]"), "[::1]");
        assert_eq!(host_without_port("::1"), "::1");
        assert_eq!(host_without_port("h:1"), "h");
        assert_eq!(host_without_port("h"), "h");
    }
}
