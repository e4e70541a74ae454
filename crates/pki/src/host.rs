//! This host's names and addresses, read from procfs and `/etc/hosts` so that no libc binding is needed.

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kernel's host name (what `hostname` prints).
pub(crate) fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .map(|text| text.trim().to_string())
        .find(|name| !name.is_empty())
}

/// The fully qualified name of `hostname`, when `/etc/hosts` knows one.
pub(crate) fn fqdn(hostname: &str) -> Option<String> {
    fqdn_in_hosts(&fs::read_to_string("/etc/hosts").ok()?, hostname)
}

/// Finds, on a line of a hosts file that lists `hostname` (bare or qualified), a name of the form `hostname.domain`.
fn fqdn_in_hosts(hosts: &str, hostname: &str) -> Option<String> {
    let short = hostname.split('.').next()?;
    let prefix = format!("{short}.");
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| {
            let names: Vec<&str> = line.split_whitespace().skip(1).collect();
            let lists_host = names.iter().any(|n| *n == hostname || n.starts_with(&prefix));
            lists_host.then(|| names.into_iter().find(|n| n.starts_with(&prefix) && n.len() > prefix.len()))?
        })
        .map(str::to_string)
        .next()
}

/// Every address configured on this host's interfaces except IPv6 link-local ones: those are unusable in a URL
/// without a zone, and each pod's veth gets one, so naming them would re-issue the certificate on every start.
pub(crate) fn interface_addresses() -> Vec<IpAddr> {
    let v4 = fs::read_to_string("/proc/net/fib_trie").map(|t| local_ipv4_addresses(&t)).unwrap_or_default();
    let v6 = fs::read_to_string("/proc/net/if_inet6").map(|t| ipv6_addresses(&t)).unwrap_or_default();
    v4.into_iter().map(IpAddr::V4).chain(v6.into_iter().filter(|ip| !is_link_local(ip)).map(IpAddr::V6)).collect()
}

/// Reads the host's own IPv4 addresses from `/proc/net/fib_trie`: a leaf line `|-- A.B.C.D` followed by a
/// `/32 host LOCAL` route line is an address assigned to an interface.
fn local_ipv4_addresses(fib_trie: &str) -> BTreeSet<Ipv4Addr> {
    let lines: Vec<&str> = fib_trie.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[1].starts_with("/32 host LOCAL"))
        .filter_map(|pair| pair[0].strip_prefix("|-- ")?.parse().ok())
        .collect()
}

/// Reads `/proc/net/if_inet6`, whose first column is each address as 32 hex digits.
fn ipv6_addresses(if_inet6: &str) -> BTreeSet<Ipv6Addr> {
    if_inet6
        .lines()
        .filter_map(|line| u128::from_str_radix(line.split_whitespace().next()?, 16).ok())
        .map(Ipv6Addr::from)
        .collect()
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB_TRIE: &str = "\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 192.0.2.2
              /32 host LOCAL
";

    #[test]
    fn fib_trie_yields_only_assigned_addresses() {
        let found: Vec<Ipv4Addr> = local_ipv4_addresses(FIB_TRIE).into_iter().collect();
        assert_eq!(found, [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 2)]);
    }

    #[test]
    fn if_inet6_is_parsed() {
        let text = "fd000000000000000000000000000002 04 40 00 82     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n";
        let found: Vec<Ipv6Addr> = ipv6_addresses(text).into_iter().collect();
        assert_eq!(
            found,
            ["::1".parse::<Ipv6Addr>().unwrap(), "fd00::2".parse().unwrap(), "fe80::fc:ff:fe00:1".parse().unwrap()]
        );
        assert!(is_link_local(&found[2]) && !is_link_local(&found[1]));
    }

    #[test]
    fn fqdn_comes_from_the_hosts_line_naming_the_host() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.9 node1.wrong.example node1\n10.0.0.5 node1.lab.example node1\n";
        assert_eq!(fqdn_in_hosts(hosts, "node1").as_deref(), Some("node1.lab.example"));
        assert_eq!(fqdn_in_hosts("127.0.0.1 localhost vm\n", "vm"), None);
    }
}
