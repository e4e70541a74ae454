//! The `pod-template-hash` of a Deployment's template (upstream's `ComputeHash`): FNV-32a of
//! the template and the Deployment's `collisionCount`, its decimal digits rendered with the
//! alphabet of upstream's `rand.SafeEncodeString`, which has no vowels (no words) and no
//! look-alike characters.
//!
//! upstream feeds the hash with Go's `spew` dump of the struct; here the template's JSON (a
//! fixed field order, sorted maps) plays that part, so names are stable and collision-free
//! in the same way, but not byte-identical to upstream's.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label a Deployment adds to its ReplicaSets' selectors and templates.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// upstream's `rand` alphabet for names derived from hashes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of `template` with `collision_count` (absent when no collision happened yet).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(FNV32_OFFSET, &json);
    if let Some(count) = collision_count {
        // upstream writes the count as 4 little-endian bytes into an 8-byte buffer.
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash = fnv32a(hash, &bytes);
    }
    safe_encode(&hash.to_string())
}

const FNV32_OFFSET: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(FNV32_PRIME);
    }
    hash
}

/// Each byte of `s` mapped into [`SAFE_ALPHABET`].
pub fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container { name: "web".into(), image: Some(image.into()), ..Default::default() }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(FNV32_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV32_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV32_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn digits_map_into_the_safe_alphabet() {
        // '0' is byte 48, 48 % 27 = 21 → '4'; '9' is 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("09"), "4f");
        assert_eq!(safe_encode("1234567890"), "56789bcdf4");
    }

    #[test]
    fn the_hash_follows_the_template_and_the_collision_count() {
        let a = compute_hash(&template("nginx"), None);
        assert_eq!(a, compute_hash(&template("nginx"), None));
        assert_ne!(a, compute_hash(&template("nginx:1.25"), None));
        assert_ne!(a, compute_hash(&template("nginx"), Some(1)));
        assert!(a.len() <= 10 && a.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
    }
}
