//! What this machine offers and is: capacity and allocatable from the kernel, the facts of
//! `status.nodeInfo`, and the node's addresses (the interface of the default route).

use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Memory the kubelet keeps back from pods (upstream's default hard eviction threshold,
/// `memory.available<100Mi`).
const RESERVED_MEMORY_KI: u64 = 100 * 1024;

/// The machine's capacity: CPUs, memory, the data dir's disk, and `max_pods`.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub cpus: u64,
    pub memory_ki: u64,
    pub ephemeral_storage_ki: u64,
    pub pods: u32,
}

impl Capacity {
    /// Read the machine: `/proc/meminfo`, the CPUs this process may use, and the
    /// filesystem holding `data_dir`.
    pub fn of_machine(data_dir: &Path, pods: u32) -> Capacity {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let memory_ki = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| mem_total_ki(&m)).unwrap_or(0);
        let ephemeral_storage_ki =
            nix::sys::statvfs::statvfs(data_dir).map(|fs| fs.blocks() * fs.fragment_size() / 1024).unwrap_or(0);
        Capacity { cpus, memory_ki, ephemeral_storage_ki, pods }
    }

    /// `status.capacity`.
    pub fn capacity(&self) -> Value {
        json!({
            "cpu": self.cpus.to_string(),
            "memory": format!("{}Ki", self.memory_ki),
            "ephemeral-storage": format!("{}Ki", self.ephemeral_storage_ki),
            "pods": self.pods.to_string(),
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
        })
    }

    /// `status.allocatable`: capacity less what the kubelet keeps back (upstream's defaults:
    /// 100Mi of memory, 10% of the disk).
    pub fn allocatable(&self) -> Value {
        let mut allocatable = self.capacity();
        allocatable["memory"] = json!(format!("{}Ki", self.memory_ki.saturating_sub(RESERVED_MEMORY_KI)));
        allocatable["ephemeral-storage"] = json!((self.ephemeral_storage_ki * 1024 * 9 / 10).to_string());
        allocatable
    }

    /// CPU that pods may request, in millicores.
    pub fn allocatable_millicpu(&self) -> u64 {
        self.cpus * 1000
    }

    /// Memory that pods may request, in bytes.
    pub fn allocatable_memory(&self) -> u64 {
        self.memory_ki.saturating_sub(RESERVED_MEMORY_KI) * 1024
    }
}

/// Which resources the node is short of, by upstream's default hard eviction thresholds
/// (`memory.available<100Mi`, `nodefs.available<10%`, and PIDs over 90% of `pid_max`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pressure {
    pub memory: bool,
    pub disk: bool,
    pub pid: bool,
}

impl Pressure {
    /// The machine's pressure now, its disk measured where `data_dir` is.
    pub fn now(data_dir: &Path) -> Pressure {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let available_ki = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
        let disk = nix::sys::statvfs::statvfs(data_dir)
            .map(|fs| fs.blocks() > 0 && fs.blocks_available() * 10 < fs.blocks())
            .unwrap_or(false);
        let pid_max =
            std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|m| m.trim().parse::<u64>().ok());
        let pids = std::fs::read_dir("/proc")
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok()).count() as u64);
        Pressure {
            memory: available_ki.is_some_and(|kib| kib < RESERVED_MEMORY_KI),
            disk,
            pid: matches!((pid_max, pids), (Some(max), Ok(count)) if count * 10 > max * 9),
        }
    }
}

fn mem_total_ki(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// `PRETTY_NAME` of `/etc/os-release`.
fn os_image() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "Linux".to_owned())
}

/// `status.nodeInfo`, with the runtime as CRI reports it (`containerd://1.6.20`).
pub fn node_info(kubelet_version: &str, runtime_version: &str) -> Value {
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname.map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let machine_id = read_trimmed("/etc/machine-id");
    let system_uuid = read_trimmed("/sys/class/dmi/id/product_uuid");
    json!({
        "machineID": machine_id,
        "systemUUID": if system_uuid.is_empty() { machine_id.clone() } else { system_uuid },
        "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
        "kernelVersion": kernel,
        "osImage": os_image(),
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": kubelet_version,
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": crate::images::oci::go_arch(),
    })
}

/// The node's InternalIP when none is given: the IPv4 address of the interface that holds
/// the default route, else the first non-loopback IPv4 address.
pub fn default_node_ip() -> Option<IpAddr> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let default_interface = default_route_interface(&routes);
    let addresses: Vec<(String, Ipv4Addr)> = nix::ifaddrs::getifaddrs()
        .map(|addrs| {
            addrs
                .filter_map(|a| {
                    let ip = a.address?.as_sockaddr_in()?.ip();
                    Some((a.interface_name, ip))
                })
                .collect()
        })
        .unwrap_or_default();
    let on_default = default_interface.and_then(|name| addresses.iter().find(|(i, _)| *i == name));
    on_default.or_else(|| addresses.iter().find(|(_, ip)| !ip.is_loopback())).map(|(_, ip)| IpAddr::V4(*ip))
}

/// The interface of the default route in `/proc/net/route`'s table.
fn default_route_interface(routes: &str) -> Option<String> {
    routes.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() > 2 && fields[1] == "00000000").then(|| fields[0].to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_default_route_are_read_from_procfs() {
        assert_eq!(mem_total_ki("MemTotal:       24684544 kB\nMemFree: 1 kB\n"), Some(24684544));
        let routes = "Iface\tDestination\tGateway\tFlags\n\
                      eth0\t0000A8C0\t00000000\t0001\n\
                      eth1\t00000000\t0100A8C0\t0003\n";
        assert_eq!(default_route_interface(routes).as_deref(), Some("eth1"));
    }

    #[test]
    fn allocatable_keeps_back_memory_and_disk() {
        let capacity = Capacity { cpus: 2, memory_ki: 1024 * 1024, ephemeral_storage_ki: 1000, pods: 110 };
        assert_eq!(capacity.capacity()["memory"], "1048576Ki");
        assert_eq!(capacity.allocatable()["memory"], format!("{}Ki", 1024 * 1024 - 100 * 1024));
        assert_eq!(capacity.allocatable()["ephemeral-storage"], "921600");
        assert_eq!(capacity.allocatable()["cpu"], "2");
        assert_eq!(capacity.allocatable_millicpu(), 2000);
    }
}
