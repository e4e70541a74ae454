//! Addresses of simulated nodes and their pods: node `i` (from 1) is `10.99.0.i`, and its
//! pods get addresses from the node's `spec.podCIDR`, or from `10.244.i.0/24` when no IPAM
//! assigned one.

use std::net::Ipv4Addr;

/// The InternalIP of the simulated node numbered `index` (from 1).
pub fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, (index / 256) as u8, (index % 256) as u8)
}

/// The pod range a node uses when it has no `spec.podCIDR`.
pub fn fallback_pod_cidr(index: usize) -> String {
    format!("10.244.{}.0/24", index % 256)
}

/// Hands out pod addresses from an IPv4 CIDR, skipping the network address and the first
/// host (the bridge's); after the last host it starts again at the beginning.
#[derive(Debug, Clone)]
pub struct PodIps {
    network: u32,
    size: u32,
    next: u32,
}

impl PodIps {
    /// A pool over `cidr` (`a.b.c.d/len`); `None` if it is not an IPv4 CIDR with room for pods.
    pub fn new(cidr: &str) -> Option<PodIps> {
        let (address, length) = cidr.split_once('/')?;
        let address: Ipv4Addr = address.parse().ok()?;
        let length: u32 = length.parse().ok().filter(|l| *l <= 30)?;
        let size = 1u32 << (32 - length);
        let network = u32::from(address) & !(size - 1);
        Some(PodIps { network, size, next: 2 })
    }

    /// The next address.
    pub fn allocate(&mut self) -> Ipv4Addr {
        let ip = Ipv4Addr::from(self.network + self.next);
        self.next += 1;
        // The last address is the broadcast address.
        if self.next >= self.size - 1 {
            self.next = 2;
        }
        ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_pod_addresses() {
        assert_eq!(node_ip(3), Ipv4Addr::new(10, 99, 0, 3));
        assert_eq!(fallback_pod_cidr(2), "10.244.2.0/24");
        let mut pool = PodIps::new("10.244.2.0/24").unwrap();
        assert_eq!(pool.allocate(), Ipv4Addr::new(10, 244, 2, 2));
        assert_eq!(pool.allocate(), Ipv4Addr::new(10, 244, 2, 3));
        let mut tiny = PodIps::new("10.0.0.0/30").unwrap();
        assert_eq!(tiny.allocate(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(tiny.allocate(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(PodIps::new("fd00::/64").is_none());
    }
}
